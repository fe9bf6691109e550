namespace Microsoft.ML.FVlm; internal static class Placeholder {}
