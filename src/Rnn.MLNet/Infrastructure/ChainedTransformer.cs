using System;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Rnn.MLNet.Infrastructure;

/// <summary>
/// Base of the Rnn.MLNet transformers: every call is delegated to a <see cref="TransformerChain{T}"/> built only from public
/// ML.NET transforms (copy the input to a private column → an Expression column holding the serialized model → a
/// CustomMapping that runs the network → public fix-ups → drop the temporaries). Saving saves that chain, so
/// <c>mlContext.Model.Load</c> returns a chain that computes exactly what this transformer computed, in any process.
/// </summary>
[System.ComponentModel.EditorBrowsable(System.ComponentModel.EditorBrowsableState.Never)]
public abstract class ChainedTransformer : ITransformer
{
    private readonly TransformerChain<ITransformer> _chain;

    /// <summary>Wraps a fitted chain.</summary>
    private protected ChainedTransformer(TransformerChain<ITransformer> chain) => _chain = chain ?? throw new ArgumentNullException(nameof(chain));

    /// <summary>The chain of public ML.NET transformers this transformer saves as.</summary>
    public TransformerChain<ITransformer> Chain => _chain;

    /// <inheritdoc />
    public bool IsRowToRowMapper => ((ITransformer)_chain).IsRowToRowMapper;

    /// <inheritdoc />
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema) => _chain.GetOutputSchema(inputSchema);

    /// <inheritdoc />
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema) => ((ITransformer)_chain).GetRowToRowMapper(inputSchema);

    /// <inheritdoc />
    public IDataView Transform(IDataView input) => _chain.Transform(input);

    /// <inheritdoc />
    void ICanSaveModel.Save(ModelSaveContext ctx) => ((ICanSaveModel)_chain).Save(ctx);
}
