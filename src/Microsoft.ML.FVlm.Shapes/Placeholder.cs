namespace Microsoft.ML.FVlm.Shapes; internal static class Placeholder {}
