using Microsoft.ML.Data;
using VectorKind = Microsoft.ML.SchemaShape.Column.VectorKind;

namespace Microsoft.ML.FVlm.Persistence;

/// <summary>
/// Builds <see cref="SchemaShape"/> columns for <c>IEstimator.GetOutputSchema</c>. ML.NET keeps the
/// constructor of <see cref="SchemaShape.Column"/> internal; this is the one place that calls it.
/// </summary>
/// <remarks>
/// A shape column describes a type without its vector size or key count: <c>Kind</c> says scalar,
/// fixed-size vector or variable-size vector; <c>ItemType</c> is the item type, and for keys it is
/// the key's raw primitive type (e.g. <see cref="NumberDataViewType.UInt32"/>) with <c>IsKey</c> set,
/// as <see cref="SchemaShape.Create(DataViewSchema)"/> does.
/// </remarks>
internal static class SchemaShapeColumns
{
    /// <summary>The annotation that holds the value of each key (e.g. the class name of a label key).</summary>
    public const string KeyValuesAnnotation = "KeyValues";

    /// <summary>
    /// The shape of a column of the given full type, e.g. <c>new VectorDataViewType(NumberDataViewType.Single)</c>
    /// gives a variable-size vector of <c>Single</c>, and a vector of <see cref="KeyDataViewType"/> gives a
    /// key vector whose item type is the key's raw type.
    /// </summary>
    public static SchemaShape.Column FromType(string name, DataViewType type, SchemaShape? annotations = null)
    {
        ArgumentNullException.ThrowIfNull(type);
        var (kind, itemType, isKey) = MlNetCompatibility.Run("describe a column type's shape", () => ShapeOf(type));
        return Create(name, kind, itemType, isKey, annotations);
    }

    /// <summary>The shape of every column of <paramref name="schema"/>, hidden columns excluded, as ML.NET's internal <c>SchemaShape.Create</c> gives it.</summary>
    public static SchemaShape FromSchema(DataViewSchema schema)
    {
        ArgumentNullException.ThrowIfNull(schema);
        return MlNetCompatibility.Run("describe a schema's shape", () => SchemaShape.Create(schema));
    }

    private static (VectorKind Kind, DataViewType ItemType, bool IsKey) ShapeOf(DataViewType type)
    {
        SchemaShape.GetColumnTypeShape(type, out VectorKind kind, out DataViewType itemType, out bool isKey);
        return (kind, itemType, isKey);
    }

    /// <summary>A scalar column.</summary>
    public static SchemaShape.Column Scalar(string name, DataViewType itemType, bool isKey = false, SchemaShape? annotations = null)
        => Create(name, VectorKind.Scalar, itemType, isKey, annotations);

    /// <summary>A vector column whose size is the same in every row.</summary>
    public static SchemaShape.Column Vector(string name, DataViewType itemType, bool isKey = false, SchemaShape? annotations = null)
        => Create(name, VectorKind.Vector, itemType, isKey, annotations);

    /// <summary>A vector column whose size may differ between rows.</summary>
    public static SchemaShape.Column VariableVector(string name, DataViewType itemType, bool isKey = false, SchemaShape? annotations = null)
        => Create(name, VectorKind.VariableVector, itemType, isKey, annotations);

    /// <summary>
    /// A column of any kind. <paramref name="itemType"/> must be a primitive item type (not a vector);
    /// with <paramref name="isKey"/> it is the key's raw type: <c>Byte</c>, <c>UInt16</c>, <c>UInt32</c> or <c>UInt64</c>.
    /// </summary>
    public static SchemaShape.Column Create(string name, VectorKind kind, DataViewType itemType, bool isKey, SchemaShape? annotations = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(itemType);
        if (itemType is VectorDataViewType)
            throw new ArgumentException($"Column '{name}': the item type must not be a vector type; pass the vector's item type and the vector kind.", nameof(itemType));
        if (itemType is KeyDataViewType)
            throw new ArgumentException($"Column '{name}': pass a key's raw type (e.g. UInt32) with isKey: true, not the KeyDataViewType itself.", nameof(itemType));
        if (isKey && !IsKeyRawType(itemType.RawType))
            throw new ArgumentException($"Column '{name}': a key column's item type must be Byte, UInt16, UInt32 or UInt64, not {itemType}.", nameof(itemType));
        return MlNetCompatibility.Run("build a schema shape column", () => new SchemaShape.Column(name, kind, itemType, isKey, annotations));
    }

    /// <summary>
    /// The annotation shape of a key column whose keys have values of <paramref name="valueItemType"/>
    /// (usually <see cref="TextDataViewType"/>: one name per key), as ML.NET's ValueToKeyMapping declares it.
    /// </summary>
    public static SchemaShape KeyValuesAnnotations(DataViewType valueItemType)
        => new([Vector(KeyValuesAnnotation, valueItemType)]);

    /// <summary>
    /// <paramref name="shape"/> with <paramref name="columns"/> added. A column whose name is already
    /// in the shape replaces it in place (a transformer's output hides an input column of the same
    /// name); new names are appended in the given order.
    /// </summary>
    public static SchemaShape With(SchemaShape shape, params SchemaShape.Column[] columns)
    {
        ArgumentNullException.ThrowIfNull(shape);
        ArgumentNullException.ThrowIfNull(columns);
        var result = shape.ToList();
        foreach (SchemaShape.Column column in columns)
        {
            if (!MlNetCompatibility.Run("check a schema shape column", () => column.IsValid))
                throw new ArgumentException("A default SchemaShape.Column cannot be added; create it with SchemaShapeColumns.", nameof(columns));
            int index = result.FindIndex(c => c.Name == column.Name);
            if (index >= 0)
                result[index] = column;
            else
                result.Add(column);
        }

        return new SchemaShape(result);
    }

    private static bool IsKeyRawType(Type type)
        => type == typeof(byte) || type == typeof(ushort) || type == typeof(uint) || type == typeof(ulong);
}
