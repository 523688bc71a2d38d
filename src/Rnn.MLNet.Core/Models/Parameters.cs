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
/// <typeparam name="T">float for training and inference, double for gradient checks.</typeparam>
public sealed class ParameterStore<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly List<Parameter> _parameters;
    private readonly Dictionary<string, Parameter> _byName;

    /// <summary>Parameter values.</summary>
    public T[] Values { get; }

    /// <summary>Gradients, same layout as <see cref="Values"/>; backward passes add into them.</summary>
    public T[] Gradients { get; }

    /// <summary>The named slices in creation order.</summary>
    public IReadOnlyList<Parameter> Parameters => _parameters;

    /// <summary>Total number of scalars.</summary>
    public int Count => Values.Length;

    internal ParameterStore(IEnumerable<(string Name, int[] Shape)> layout)
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
        Values = new T[offset];
        Gradients = new T[offset];
    }

    /// <summary>Finds a parameter by name.</summary>
    public Parameter this[string name] =>
        _byName.TryGetValue(name, out var p) ? p : throw new KeyNotFoundException($"No parameter named '{name}'. Known: {string.Join(", ", _byName.Keys)}.");

    /// <summary>True if a parameter of that name exists.</summary>
    public bool Contains(string name) => _byName.ContainsKey(name);

    /// <summary>The values of one parameter.</summary>
    public Span<T> Value(Parameter p) => Values.AsSpan(p.Offset, p.Size);

    /// <summary>The gradient of one parameter.</summary>
    public Span<T> Gradient(Parameter p) => Gradients.AsSpan(p.Offset, p.Size);

    /// <summary>The values of the parameter with this name.</summary>
    public Span<T> Value(string name) => Value(this[name]);

    /// <summary>The gradient of the parameter with this name.</summary>
    public Span<T> Gradient(string name) => Gradient(this[name]);

    /// <summary>Sets every gradient to zero (once per training step).</summary>
    public void ZeroGradients() => Math.ParallelOps.Clear(Gradients);
}
