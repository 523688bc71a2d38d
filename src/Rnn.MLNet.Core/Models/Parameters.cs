using System;
using System.Collections.Generic;
using System.Linq;
using System.Numerics;

namespace Rnn.MLNet.Models;

/// <summary>One named tensor inside a <see cref="ParameterStore{T}"/>: a slice [Offset, Offset + Size) of the flat buffer.</summary>
/// <param name="Name">PyTorch-style name, e.g. <c>rnn.weight_ih_l0</c>.</param>
/// <param name="Offset">Start in the flat buffer.</param>
/// <param name="Shape">Row-major shape.</param>
public sealed record Parameter(string Name, int Offset, int[] Shape)
{
    /// <summary>Number of elements (computed once: slices are taken on every forward pass).</summary>
    public int Size { get; } = Shape.Aggregate(1, (a, b) => checked(a * b));

    /// <summary>Shape as text, e.g. <c>[512, 128]</c>.</summary>
    public string ShapeText => "[" + string.Join(", ", Shape) + "]";
}

/// <summary>
/// All parameters of a model in one flat buffer carved into named slices, with a gradient buffer of the same layout
/// (so optimizers and clipping are single flat loops).
/// </summary>
/// <remarks>
/// <para>Gradients are allocated when training first asks for them, so a network used only for inference carries none.</para>
/// <para>
/// Inference keeps copies derived from the weights between calls (weights packed for the matrix kernel, per-token input
/// projections) and rebuilds them when <see cref="Version"/> has moved. The version moves on every optimizer step, on
/// loading weights, on every call of <see cref="Value(Parameter)"/>, <see cref="Value(string)"/> or <see cref="Values"/>
/// (writable views: taking one counts as a change), and on <see cref="MarkChanged"/>. Code that keeps such a view and
/// writes through it after a prediction (a gradient check nudging one weight at a time) calls <see cref="MarkChanged"/>
/// after each write.
/// </para>
/// </remarks>
/// <typeparam name="T">float for training and inference, double for gradient checks.</typeparam>
public sealed class ParameterStore<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly List<Parameter> _parameters;
    private readonly Dictionary<string, Parameter> _byName;

    private readonly T[] _values;
    private T[]? _gradients;
    private long _version;

    /// <summary>Parameter values: the writable buffer, so reading this property counts as a change (see <see cref="Version"/>).</summary>
    public T[] Values
    {
        get
        {
            MarkChanged();
            return _values;
        }
    }

    /// <summary>Gradients, same layout as <see cref="Values"/>; backward passes add into them. Allocated on first use (training).</summary>
    public T[] Gradients => _gradients ??= new T[_values.Length];

    /// <summary>True once <see cref="Gradients"/> has been allocated (a network used only for inference never allocates it).</summary>
    public bool HasGradients => _gradients is not null;

    /// <summary>
    /// A number that changes whenever the weights may have changed (see the remarks of <see cref="ParameterStore{T}"/>):
    /// caches derived from the weights are valid while it stays the same.
    /// </summary>
    public long Version => System.Threading.Volatile.Read(ref _version);

    /// <summary>Records that the weights changed (call it after writing through a view kept from earlier).</summary>
    public void MarkChanged() => System.Threading.Interlocked.Increment(ref _version);

    /// <summary>The named slices in creation order.</summary>
    public IReadOnlyList<Parameter> Parameters => _parameters;

    /// <summary>Total number of scalars.</summary>
    public int Count => _values.Length;

    /// <summary>A store of the layout; <paramref name="values"/>, when given, becomes its buffer (not copied).</summary>
    internal ParameterStore(IEnumerable<(string Name, int[] Shape)> layout, T[]? values = null)
    {
        _parameters = new List<Parameter>();
        _byName = new Dictionary<string, Parameter>(StringComparer.Ordinal);
        long offset = 0;
        foreach (var (name, shape) in layout)
        {
            var p = new Parameter(name, checked((int)offset), shape);
            _parameters.Add(p);
            _byName.Add(name, p);
            offset += p.Size;
        }
        if (offset > Array.MaxLength) throw new ArgumentException($"The model has {offset} parameters, more than one buffer can hold.");
        if (values is not null && values.LongLength != offset) throw new ArgumentException($"{values.Length} values given; the layout has {offset}.", nameof(values));
        _values = values ?? new T[offset];
    }

    /// <summary>Finds a parameter by name.</summary>
    public Parameter this[string name] =>
        _byName.TryGetValue(name, out var p) ? p : throw new KeyNotFoundException($"No parameter named '{name}'. Known: {string.Join(", ", _byName.Keys)}.");

    /// <summary>True if a parameter of that name exists.</summary>
    public bool Contains(string name) => _byName.ContainsKey(name);

    /// <summary>The values of one parameter (a writable view: taking it counts as a change, see <see cref="Version"/>).</summary>
    public Span<T> Value(Parameter p)
    {
        MarkChanged();
        return _values.AsSpan(p.Offset, p.Size);
    }

    /// <summary>The values of one parameter for reading (does not count as a change).</summary>
    internal ReadOnlySpan<T> Read(Parameter p) => _values.AsSpan(p.Offset, p.Size);

    /// <summary>The values of one parameter as memory, for reading (does not count as a change).</summary>
    internal ReadOnlyMemory<T> ReadMemory(Parameter p) => _values.AsMemory(p.Offset, p.Size);

    /// <summary>The whole value buffer without counting as a change: for the optimizer (which marks its step) and loaders that mark theirs.</summary>
    internal T[] Buffer => _values;

    /// <summary>The gradient of one parameter.</summary>
    public Span<T> Gradient(Parameter p) => Gradients.AsSpan(p.Offset, p.Size);

    /// <summary>The values of the parameter with this name (a writable view: taking it counts as a change).</summary>
    public Span<T> Value(string name) => Value(this[name]);

    /// <summary>The gradient of the parameter with this name.</summary>
    public Span<T> Gradient(string name) => Gradient(this[name]);

    /// <summary>Frees the gradient buffer once training is over (training again allocates a new one).</summary>
    internal void ReleaseGradients() => _gradients = null;

    /// <summary>Sets every gradient to zero (once per training step).</summary>
    public void ZeroGradients() => Math.ParallelOps.Clear(Gradients);
}
