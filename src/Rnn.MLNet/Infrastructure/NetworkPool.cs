using System;
using System.Collections.Concurrent;
using Rnn.MLNet.Models;

namespace Rnn.MLNet.Infrastructure;

/// <summary>Inference copies of one network, one per concurrent caller (a network owns its activation buffers).</summary>
internal class NetworkPool<TNetwork> where TNetwork : class
{
    private readonly Func<TNetwork, TNetwork> _clone;
    private readonly ConcurrentBag<TNetwork> _free = new();

    public NetworkPool(TNetwork prototype, Func<TNetwork, TNetwork> clone)
    {
        Prototype = prototype;
        _clone = clone;
    }

    public TNetwork Prototype { get; }

    public TNetwork Rent() => _free.TryTake(out var n) ? n : _clone(Prototype);

    public void Return(TNetwork network) => _free.Add(network);
}

/// <summary>The pool of a <see cref="SequenceNetwork{T}"/>.</summary>
internal sealed class NetworkPool(SequenceNetwork<float> prototype) : NetworkPool<SequenceNetwork<float>>(prototype, n => n.CloneForInference());
