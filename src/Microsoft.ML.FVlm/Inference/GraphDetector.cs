using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.InteropServices;
using Google.Protobuf;
using Microsoft.ML.Data;
using Microsoft.ML.FVlm.Data;
using Microsoft.ML.FVlm.Modeling;
using Microsoft.ML.FVlm.Onnx;
using Microsoft.ML.FVlm.Vlm;
using Microsoft.ML.OnnxRuntime;

namespace Microsoft.ML.FVlm.Inference;

/// <summary>
/// Detection through the fitted detector's ONNX graph (<see cref="DetectorGraph"/>) on ONNX Runtime: one run per image
/// from its RGB bytes to the kept detections and their mask probabilities, the masks pasted at the image's size in C#.
/// A graph is built and its session opened the first time a structure (score source, fusion, region scales, masks)
/// is asked for, on the device the VLM's sessions use; with one ranking, thresholds and the number of detections are
/// inputs of the graph, so one graph serves them all. With a VLM whose region graphs are factorized the graph runs as
/// two sessions, the VLM's region embeddings computed between them in C# (<see cref="RegionEmbedder"/>). Thread-safe:
/// sessions run concurrently.
/// </summary>
internal sealed class GraphDetector(FrozenVlm vlm, HeadGraphs head, int imageSize) : IDisposable
{
    private readonly ConcurrentDictionary<GraphKey, Lazy<DetectorSessions>> _sessions = new();

    /// <summary>
    /// What makes settings need different graphs: for one ranking, its structure (its limits are inputs of the graph);
    /// for several (an evaluation's), every setting, whose limits are constants.
    /// </summary>
    private abstract record GraphKey
    {
        public static GraphKey Of(IReadOnlyList<InferenceSettings> rankings) => rankings.Count == 1
            ? new Structure(rankings[0].ScoreSource, rankings[0].Fusion, rankings[0].RegionScaling, rankings[0].PredictMasks)
            : new Rankings(string.Join("\n", rankings));
    }

    private sealed record Structure(DetectionScoreSource ScoreSource, FusionMethod Fusion, RegionScaling RegionScaling, bool PredictMasks) : GraphKey;

    /// <param name="Settings">Every setting, as records print them (RegionScaling and FusionMethod print all they hold).</param>
    private sealed record Rankings(string Settings) : GraphKey;

    /// <summary>Detects every class of <paramref name="vocabulary"/> in <paramref name="images"/>, one image at a time.</summary>
    /// <param name="images">The images.</param>
    /// <param name="vocabulary">
    /// Class names and novel flags, validated (<see cref="Vocabulary.Validate"/>): a transformer's, which validated it when
    /// it was made. Validating on every batch cost 14.6 ms with 1,203 names.
    /// </param>
    /// <param name="settings">The settings to detect with.</param>
    /// <param name="timings">
    /// Adds the time of reading the pixels (<see cref="InferenceStage.Preprocessing"/>), of the graph (<see cref="InferenceStage.Graph"/>),
    /// of the region embeddings between two graphs (<see cref="InferenceStage.VlmRegionScoring"/>) and of pasting the masks (<see cref="InferenceStage.Masks"/>).
    /// </param>
    public IReadOnlyList<ImageDetections> Detect(IReadOnlyList<MLImage> images, Vocabulary vocabulary, InferenceSettings settings, InferenceTimings? timings = null) =>
        Detect(images, vocabulary, [settings], timings)[0];

    /// <summary>
    /// Detects with several rankings (e.g. fused, detection-only and VLM-only for an evaluation) from one run of one
    /// graph per image.
    /// </summary>
    /// <returns>Per ranking, per image.</returns>
    public IReadOnlyList<IReadOnlyList<ImageDetections>> Detect(IReadOnlyList<MLImage> images, Vocabulary vocabulary, IReadOnlyList<InferenceSettings> rankings,
        InferenceTimings? timings = null)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(rankings);
        if (rankings.Count == 0) throw new ArgumentException("At least one inference setting is needed.", nameof(rankings));
        var sessions = Sessions(rankings);
        float[] text = vlm.TextEmbeddings.GetValues(vocabulary.Names);
        // One vlm_weights input serves every ranking: they must agree on alpha and beta.
        if (rankings.Any(r => r.BaseVlmWeight != rankings[0].BaseVlmWeight || r.NovelVlmWeight != rankings[0].NovelVlmWeight))
            throw new ArgumentException("Rankings detected together must weigh the VLM alike (BaseVlmWeight, NovelVlmWeight).", nameof(rankings));
        float[] weights = DetectorGraph.VlmWeightsOf(vocabulary, rankings[0]);
        using var textValue = OrtValue.CreateTensorValueFromMemory(text, [vocabulary.Names.Count, vlm.Manifest.EmbeddingDim]);
        // The ranking's inputs besides the image and what the first of two graphs hands over.
        var vocabularyInputs = new Dictionary<string, OrtValue> { [DetectorGraph.VlmWeights] = OrtValue.CreateTensorValueFromMemory(weights, [weights.Length]) };
        if (rankings.Count == 1)
        {
            var settings = rankings[0];
            vocabularyInputs[DetectorGraph.ScoreThreshold] = OrtValue.CreateTensorValueFromMemory(new[] { (float)settings.ScoreThreshold }, [1]);
            vocabularyInputs[DetectorGraph.NmsThreshold] = OrtValue.CreateTensorValueFromMemory(new[] { (float)settings.NmsThreshold }, [1]);
            vocabularyInputs[DetectorGraph.MaxDetections] = OrtValue.CreateTensorValueFromMemory(new[] { (long)settings.MaxDetections }, [1]);
        }
        string[] perRanking = [DetectorGraph.Boxes, DetectorGraph.Scores, DetectorGraph.Labels, DetectorGraph.DetectionScores, DetectorGraph.VlmScores, DetectorGraph.HighestScore, DetectorGraph.Masks];
        var outputNames = rankings.SelectMany((r, k) => perRanking.Take(r.PredictMasks ? 7 : 6).Select(o => DetectorGraph.OutputName(o, k))).ToArray();

        var results = rankings.Select(_ => new ImageDetections[images.Count]).ToArray();
        try
        {
            using var runOptions = new RunOptions();
            for (int i = 0; i < images.Count; i++)
            {
                var image = images[i] ?? throw new ArgumentException($"Image {i} of the batch is missing.", nameof(images));
                if (image.Width <= 0 || image.Height <= 0) throw new ArgumentException($"Image {i} of the batch is empty.", nameof(images));
                long start = Stopwatch.GetTimestamp();
                using var imageValue = OrtValue.CreateTensorValueFromMemory(Rgb(image, i), [image.Height, image.Width, 3]);
                timings?.Add(InferenceStage.Preprocessing, start);
                start = Stopwatch.GetTimestamp();
                using var outputs = sessions.Run(runOptions, imageValue, textValue, vocabularyInputs, outputNames, rankings[0].RegionScaling, out long regionTicks);
                // The region embeddings between two graphs are the VLM's region scoring; the rest is the graph's.
                timings?.Add(InferenceStage.Graph, start + regionTicks);
                timings?.AddTicks(InferenceStage.VlmRegionScoring, regionTicks);
                start = Stopwatch.GetTimestamp();
                int offset = 0;
                for (int k = 0; k < rankings.Count; k++)
                {
                    results[k][i] = Read(outputs, offset, image.Height, image.Width, rankings[k].PredictMasks);
                    offset += rankings[k].PredictMasks ? 7 : 6;
                }
                timings?.Add(InferenceStage.Masks, start);
            }
        }
        finally
        {
            foreach (var input in vocabularyInputs.Values) input.Dispose();
        }
        timings?.AddImages(images.Count);
        return results;
    }

    /// <summary>The sessions of the graph for <paramref name="rankings"/>, built the first time they are asked for.</summary>
    private DetectorSessions Sessions(IReadOnlyList<InferenceSettings> rankings)
    {
        var key = GraphKey.Of(rankings);
        var sessions = _sessions.GetOrAdd(key, _ => new Lazy<DetectorSessions>(() => Open(rankings), LazyThreadSafetyMode.ExecutionAndPublication));
        try
        {
            return sessions.Value;
        }
        catch
        {
            // A failure (no CUDA, say) is not kept: the next call tries again.
            _sessions.TryRemove(new KeyValuePair<GraphKey, Lazy<DetectorSessions>>(key, sessions));
            throw;
        }
    }

    /// <summary>
    /// The graph's sessions: one, or with a VLM whose region graphs are factorized two, the region embeddings computed
    /// between them in C# (<see cref="RegionEmbedder"/>: channels last, where ONNX's RoiAlign pools a channel at a time).
    /// </summary>
    private DetectorSessions Open(IReadOnlyList<InferenceSettings> rankings)
    {
        bool split = vlm.Manifest.RegionProjector is not null;
        var (detect, rank) = DetectorGraph.Build(vlm, head, imageSize, rankings, limitsAsInputs: rankings.Count == 1, regionsOutside: split);
        var first = Session(detect, "the detector's graph");
        try
        {
            return new DetectorSessions(vlm, first, rank is null ? null : Session(rank, "the detector's ranking graph"),
                rankings.Select(r => r.Fusion.VlmBoxes).Distinct().ToArray());
        }
        catch
        {
            first.Dispose();
            throw;
        }
    }

    private InferenceSession Session(Onnx.Proto.ModelProto graph, string description)
    {
        byte[] model = graph.ToByteArray();
        return OnnxGraph.CreateSession(description, options =>
        {
            // The thresholds and the number of detections are inputs with defaults, which ONNX Runtime warns about on every load.
            options.LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR;
            // The graph's many small operators leave its worker threads waiting between them; spinning there takes the cores
            // from the other threads of the application (and of this graph's other runs). Without it the Shapes detector's
            // graph took 335 ms per image against 379 (means of 4 and 5 alternating runs of bench-inference --path graph, 2 cores); RN50 at
            // 1,024 px the same.
            options.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
            return new InferenceSession(model, options);
        }, vlm.SessionOptions).Session;
    }

    /// <summary>One graph's session, or the two of a graph split at the region embeddings, run for one image.</summary>
    /// <param name="Vlm">The VLM whose region attention graph embeds the regions between the two.</param>
    /// <param name="Detect">The graph, or its first part.</param>
    /// <param name="Rank">The second part, if split.</param>
    /// <param name="Scored">The sets of boxes the VLM scores.</param>
    private sealed record DetectorSessions(FrozenVlm Vlm, InferenceSession Detect, InferenceSession? Rank, VlmScoredBoxes[] Scored) : IDisposable
    {
        /// <summary>Runs the image through the graph (both parts) and returns <paramref name="outputNames"/>.</summary>
        public IDisposableReadOnlyCollection<OrtValue> Run(RunOptions runOptions, OrtValue image, OrtValue text, IReadOnlyDictionary<string, OrtValue> vocabulary,
            string[] outputNames, RegionScaling scaling, out long regionTicks)
        {
            regionTicks = 0;
            if (Rank is null)
                return Detect.Run(runOptions, [DetectorGraph.Image, DetectorGraph.TextEmbeddings, .. vocabulary.Keys], [image, text, .. vocabulary.Values], outputNames);
            var handed = Detect.OutputNames;
            using var first = Detect.Run(runOptions, [DetectorGraph.Image, DetectorGraph.TextEmbeddings], [image, text], handed);
            var byName = handed.Select((name, i) => (name, i)).ToDictionary(p => p.name, p => first[p.i]);
            long start = Stopwatch.GetTimestamp();
            var maps = Enumerable.Range(0, scaling.Scales.Count).Select(s =>
            {
                var map = byName[DetectorGraph.RegionMap(s)];
                long[] shape = map.GetTensorTypeAndShape().Shape;
                return new RegionEmbedder.ProjectedMap(DataOf(map), (int)shape[1], (int)shape[2], (int)shape[3]);
            }).ToArray();
            var embeddings = new List<OrtValue>();
            try
            {
                foreach (var boxes in Scored)
                {
                    float[] corners = byName[DetectorGraph.RegionBoxes(boxes)].GetTensorDataAsSpan<float>().ToArray();
                    float[] values = RegionEmbedder.Embed(Vlm, maps, corners, scaling);
                    embeddings.Add(OrtValue.CreateTensorValueFromMemory(values, [corners.Length / 4, Vlm.Manifest.EmbeddingDim]));
                }
                regionTicks = Stopwatch.GetTimestamp() - start;
                var names = new List<string> { DetectorGraph.TextEmbeddings };
                var inputs = new List<OrtValue> { text };
                foreach (var (name, value) in vocabulary)
                {
                    names.Add(name);
                    inputs.Add(value);
                }
                foreach (var name in Rank.InputNames.Where(n => byName.ContainsKey(n)))
                {
                    names.Add(name);
                    inputs.Add(byName[name]);
                }
                for (int b = 0; b < Scored.Length; b++)
                {
                    names.Add(DetectorGraph.RegionEmbeddings(Scored[b]));
                    inputs.Add(embeddings[b]);
                }
                return Rank.Run(runOptions, names, inputs, outputNames);
            }
            finally
            {
                foreach (var value in embeddings) value.Dispose();
            }
        }

        private static unsafe IntPtr DataOf(OrtValue value) =>
            (IntPtr)System.Runtime.CompilerServices.Unsafe.AsPointer(ref MemoryMarshal.GetReference(value.GetTensorMutableDataAsSpan<float>()));

        public void Dispose()
        {
            Detect.Dispose();
            Rank?.Dispose();
        }
    }

    /// <summary>One image's detections from one ranking's outputs, from <paramref name="offset"/> on in the order of <c>Detect</c>'s output names.</summary>
    private static ImageDetections Read(IDisposableReadOnlyCollection<OrtValue> outputs, int offset, int height, int width, bool withMasks)
    {
        float[] boxes = outputs[offset].GetTensorDataAsSpan<float>().ToArray();
        float[] scores = outputs[offset + 1].GetTensorDataAsSpan<float>().ToArray();
        int[] classes = outputs[offset + 2].GetTensorDataAsSpan<long>().ToArray().Select(c => (int)c).ToArray();
        float[] detectionScores = outputs[offset + 3].GetTensorDataAsSpan<float>().ToArray();
        float[] vlmScores = outputs[offset + 4].GetTensorDataAsSpan<float>().ToArray();
        float highest = outputs[offset + 5].GetTensorDataAsSpan<float>()[0];
        RleMask[]? masks = null;
        if (withMasks)
        {
            var probabilities = outputs[offset + 6].GetTensorDataAsSpan<float>();
            int size = RoiHeads.MaskSize, plane = size * size;
            var buffer = new byte[height * width];
            masks = new RleMask[classes.Length];
            for (int d = 0; d < classes.Length; d++)
                masks[d] = MaskPaster.Paste(probabilities.Slice(d * plane, plane), size, boxes.AsSpan(d * 4, 4), height, width, buffer);
        }
        return new ImageDetections(boxes, classes, scores, detectionScores, vlmScores, masks)
        {
            // The threshold kept nothing though the image has proposals: say how far the best pair was from it.
            HighestScoreBelowThreshold = classes.Length == 0 && highest >= 0 ? highest : null,
        };
    }

    /// <summary>The image's pixels as RGB bytes, row by row: the graph's <see cref="DetectorGraph.Image"/> input.</summary>
    /// <param name="image">A Bgra32 or Rgba32 image.</param>
    /// <param name="index">Its place in the batch, for messages.</param>
    internal static byte[] Rgb(MLImage image, int index = 0)
    {
        ReadOnlySpan<byte> pixels = image.Pixels;
        if (pixels.Length != image.Width * image.Height * 4)
            throw new ArgumentException($"Image {index} of the batch ({image.Width}x{image.Height}) has {pixels.Length} bytes of pixels; expected 4 per pixel ({image.PixelFormat}).");
        (int r, int g, int b) = image.PixelFormat switch
        {
            MLPixelFormat.Bgra32 => (2, 1, 0),
            MLPixelFormat.Rgba32 => (0, 1, 2),
            _ => throw new ArgumentException($"Image {index} of the batch has pixel format {image.PixelFormat}; expected Bgra32 or Rgba32."),
        };
        int count = image.Width * image.Height;
        var rgb = new byte[count * 3];
        for (int p = 0; p < count; p++)
        {
            rgb[p * 3] = pixels[p * 4 + r];
            rgb[p * 3 + 1] = pixels[p * 4 + g];
            rgb[p * 3 + 2] = pixels[p * 4 + b];
        }
        return rgb;
    }

    /// <summary>Disposes the sessions opened (the model calls it once no call is in flight).</summary>
    public void Dispose()
    {
        foreach (var session in _sessions.Values.Where(s => s.IsValueCreated)) session.Value.Dispose();
        _sessions.Clear();
    }
}
