namespace Microsoft.ML.FVlm.Inference;

/// <summary>The detection transform's columns: the image column it reads, the names of the columns it adds, and whether it adds the two optional score columns.</summary>
internal sealed record OutputColumns(
    string ImageColumnName, string PredictedLabelColumnName, string ScoreColumnName, string PredictedBoundingBoxColumnName, string PredictedMaskColumnName,
    bool AddDetectionScoreColumn, bool AddVlmScoreColumn);

/// <summary>
/// What a fitted transformer scores with besides its model (whose architecture and image size are the model's):
/// built once from the validated options by <see cref="FVlmOptionsValidator.Scoring"/>, immutable, and saved in the
/// model zip with the architecture.
/// </summary>
/// <param name="Columns">The columns read and written.</param>
/// <param name="Inference">Post-processing and fusion.</param>
/// <param name="BatchSize">Images scored together by <c>Transform</c> (<see cref="FVlmOptions.InferenceBatchSize"/>).</param>
internal sealed record ScoringSettings(OutputColumns Columns, InferenceSettings Inference, int BatchSize);
