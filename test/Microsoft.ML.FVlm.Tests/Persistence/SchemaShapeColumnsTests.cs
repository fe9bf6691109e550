using Microsoft.ML.Data;
using Microsoft.ML.FVlm.Persistence;
using VectorKind = Microsoft.ML.SchemaShape.Column.VectorKind;

namespace Microsoft.ML.FVlm.Tests.Persistence;

public class SchemaShapeColumnsTests
{
    [Test]
    public void FromTypeGivesKindItemTypeAndKeyness()
    {
        SchemaShape.Column label = SchemaShapeColumns.FromType("Label", new VectorDataViewType(new KeyDataViewType(typeof(uint), 5)));
        SchemaShape.Column boxes = SchemaShapeColumns.FromType("Boxes", new VectorDataViewType(NumberDataViewType.Single));
        SchemaShape.Column embedding = SchemaShapeColumns.FromType("Embedding", new VectorDataViewType(NumberDataViewType.Single, 512));
        SchemaShape.Column name = SchemaShapeColumns.FromType("Name", TextDataViewType.Instance);

        Assert.That((label.Kind, label.ItemType, label.IsKey), Is.EqualTo((VectorKind.VariableVector, (DataViewType)NumberDataViewType.UInt32, true)),
            "a key's shape item type is its raw type");
        Assert.That((boxes.Kind, boxes.ItemType, boxes.IsKey), Is.EqualTo((VectorKind.VariableVector, (DataViewType)NumberDataViewType.Single, false)));
        Assert.That((embedding.Kind, embedding.IsKey), Is.EqualTo((VectorKind.Vector, false)));
        Assert.That((name.Kind, name.ItemType), Is.EqualTo((VectorKind.Scalar, (DataViewType)TextDataViewType.Instance)));
    }

    [Test]
    public void FromSchemaSkipsHiddenColumns()
    {
        var mlContext = new MLContext(seed: 1);
        IDataView data = mlContext.Data.LoadFromEnumerable(new[] { new TextRow { Label = "a" } });
        data = mlContext.Transforms.Conversion.MapValueToKey("Label").Fit(data).Transform(data);

        SchemaShape shape = SchemaShapeColumns.FromSchema(data.Schema);

        Assert.That(data.Schema.Count, Is.EqualTo(2), "the text Label is hidden by the key Label");
        Assert.That(shape.Select(c => c.Name), Is.EqualTo(new[] { "Label" }));
        Assert.That(shape.Single().IsKey, Is.True);
    }

    [Test]
    public void KeyVectorShapeMatchesWhatValueToKeyDeclares()
    {
        // ML.NET's own estimator declares the output we will declare for PredictedLabel.
        var mlContext = new MLContext(seed: 1);
        var input = new SchemaShape([SchemaShapeColumns.VariableVector("Label", TextDataViewType.Instance)]);
        SchemaShape.Column mlNet = mlContext.Transforms.Conversion.MapValueToKey("Label").GetOutputSchema(input).Single(c => c.Name == "Label");

        SchemaShape.Column ours = SchemaShapeColumns.VariableVector("Label", NumberDataViewType.UInt32, isKey: true,
            annotations: SchemaShapeColumns.KeyValuesAnnotations(TextDataViewType.Instance));

        Assert.That((ours.Kind, ours.ItemType, ours.IsKey), Is.EqualTo((mlNet.Kind, mlNet.ItemType, mlNet.IsKey)));
        SchemaShape.Column ourValues = ours.Annotations.Single(c => c.Name == "KeyValues");
        SchemaShape.Column mlNetValues = mlNet.Annotations.Single(c => c.Name == "KeyValues");
        Assert.That((ourValues.Kind, ourValues.ItemType, ourValues.IsKey), Is.EqualTo((mlNetValues.Kind, mlNetValues.ItemType, mlNetValues.IsKey)));
    }

    [Test]
    public void WithReplacesInPlaceAndAppends()
    {
        var input = new SchemaShape([
            SchemaShapeColumns.Scalar("A", NumberDataViewType.Single),
            SchemaShapeColumns.Scalar("B", NumberDataViewType.Single),
        ]);

        SchemaShape output = SchemaShapeColumns.With(input,
            SchemaShapeColumns.Vector("C", NumberDataViewType.Single),
            SchemaShapeColumns.Scalar("A", TextDataViewType.Instance));

        Assert.That(output.Select(c => c.Name), Is.EqualTo(new[] { "A", "B", "C" }));
        Assert.That(output[0].ItemType, Is.EqualTo(TextDataViewType.Instance));
        Assert.That(output[2].Kind, Is.EqualTo(VectorKind.Vector));
        Assert.That(input[0].ItemType, Is.EqualTo(NumberDataViewType.Single), "the input shape is not changed");
    }

    [Test]
    public void InvalidColumnsAreRejectedWithTheColumnName()
    {
        var vector = Assert.Throws<ArgumentException>(() =>
            SchemaShapeColumns.Scalar("Boxes", new VectorDataViewType(NumberDataViewType.Single)))!;
        var key = Assert.Throws<ArgumentException>(() =>
            SchemaShapeColumns.Scalar("Label", NumberDataViewType.Single, isKey: true))!;
        var keyType = Assert.Throws<ArgumentException>(() =>
            SchemaShapeColumns.Scalar("Label", new KeyDataViewType(typeof(uint), 3), isKey: true))!;

        Assert.That(vector.Message, Does.Contain("Column 'Boxes'").And.Contain("must not be a vector type"));
        Assert.That(key.Message, Does.Contain("Column 'Label'").And.Contain("Byte, UInt16, UInt32 or UInt64"));
        Assert.That(keyType.Message, Does.Contain("raw type"));
        Assert.Throws<ArgumentException>(() => SchemaShapeColumns.With(new SchemaShape([]), default(SchemaShape.Column)));
    }

    private sealed class TextRow
    {
        public string Label { get; set; } = "";
    }
}
