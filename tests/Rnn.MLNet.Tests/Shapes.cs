using System;
using Microsoft.ML;

namespace Rnn.MLNet.Tests;

/// <summary>
/// ML.NET keeps SchemaShape.Create(DataViewSchema) internal; a CustomMapping with no inputs and the row type as output
/// gives the shape of a data set of that row type through public API.
/// </summary>
public static class Shapes
{
    public sealed class NoInput { }

    public static SchemaShape Of<T>(MLContext ml) where T : class, new() =>
        ml.Transforms.CustomMapping<NoInput, T>((_, _) => { }, null).GetOutputSchema(new SchemaShape(Array.Empty<SchemaShape.Column>()));
}
