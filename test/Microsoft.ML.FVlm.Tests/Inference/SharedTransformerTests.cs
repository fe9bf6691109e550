using Microsoft.ML.Data;
using Microsoft.ML.FVlm.Inference;
using Microsoft.ML.FVlm.Modeling;
using Microsoft.ML.FVlm.Tests.Modeling;
using Microsoft.ML.FVlm.Tests.Vlm;
using Microsoft.ML.FVlm.Vlm;

namespace Microsoft.ML.FVlm.Tests.Inference;

/// <summary>
/// One fitted transformer shared by many threads and prediction engines, as a service uses it:
/// ML.NET's PredictionEngine disposes the transformer it was made from, and no dispose may free
/// what another engine or a call in flight still uses.
/// </summary>
public class SharedTransformerTests
{
    private const int ImageSide = 96;

    private sealed class ImageInput
    {
        [Microsoft.ML.Transforms.Image.ImageType(ImageSide, ImageSide)]
        public MLImage Image { get; set; } = null!;
    }

    private sealed class Prediction
    {
        public float[] Score { get; set; } = [];
        public float[] PredictedBoundingBoxes { get; set; } = [];
    }

    [Test]
    public void EightThreadsScoringTwoThousandImagesUnderForcedCollectionsGiveOneThreadsOutputs()
    {
        var ml = new MLContext(seed: 1);
        using var transformer = TinyModels.Transformer();
        var images = Enumerable.Range(0, 16).Select(i => TinyModels.RandomImage(ImageSide, ImageSide, 100 + i)).ToArray();
        try
        {
            Prediction[] expected;
            // Each engine takes a share of the transformer and returns it when disposed.
            using (var single = ml.Model.CreatePredictionEngine<ImageInput, Prediction>(transformer))
                expected = images.Select(image => single.Predict(new ImageInput { Image = image })).ToArray();
            Assert.That(expected.Sum(p => p.Score.Length), Is.GreaterThan(0), "the reference has detections to compare");

            const int threads = 8, imagesPerThread = 250;
            var mismatches = new List<string>();
            var errors = new Exception?[threads];
            using var done = new CancellationTokenSource();
            int collections = 0;
            // Collections at any point of a call: none may free or move what the native code is using.
            var collector = new Thread(() =>
            {
                while (!done.IsCancellationRequested)
                {
                    GC.Collect();
                    collections++;
                    Thread.Sleep(10);
                }
            });
            var workers = Enumerable.Range(0, threads).Select(t => new Thread(() =>
            {
                try
                {
                    using var engine = ml.Model.CreatePredictionEngine<ImageInput, Prediction>(transformer);
                    for (int k = 0; k < imagesPerThread; k++)
                    {
                        int i = (t * imagesPerThread + k) % images.Length;
                        var output = engine.Predict(new ImageInput { Image = images[i] });
                        if (!output.Score.SequenceEqual(expected[i].Score) || !output.PredictedBoundingBoxes.SequenceEqual(expected[i].PredictedBoundingBoxes))
                            lock (mismatches) mismatches.Add($"thread {t}, image {i}");
                    }
                }
                catch (Exception e)
                {
                    errors[t] = e;
                }
            })).ToArray();
            collector.Start();
            foreach (var worker in workers) worker.Start();
            foreach (var worker in workers) worker.Join();
            done.Cancel();
            collector.Join();

            Assert.That(errors.Where(e => e is not null).Select(e => e!.GetType().Name + ": " + e.Message), Is.Empty);
            Assert.That(mismatches, Is.Empty, "outputs that differ from one thread's");
            Assert.That(collections, Is.GreaterThan(10), "the premise: collections ran while the threads scored");
            TestContext.Out.WriteLine($"{threads * imagesPerThread} images on {threads} threads, {collections} forced collections");
        }
        finally
        {
            foreach (var image in images) image.Dispose();
        }
    }

    [Test]
    public void EnginesOfOneTransformerOnEightThreadsGiveOneThreadsOutputsWhenOneDisposesEarly()
    {
        var ml = new MLContext(seed: 1);
        using var transformer = TinyModels.Transformer();
        var images = Enumerable.Range(0, 3).Select(i => TinyModels.RandomImage(ImageSide, ImageSide, 40 + i)).ToArray();
        try
        {
            var expected = images.Select(image => transformer.Detect([image])[0]).ToArray();
            Assert.That(expected.Sum(d => d.Count), Is.GreaterThan(0), "the reference has detections to compare");

            const int threads = 8;
            var created = new Barrier(threads);
            var earlyDisposed = new Barrier(threads);
            var outputs = new Prediction[threads][];
            var errors = new Exception?[threads];
            var workers = Enumerable.Range(0, threads).Select(t => new Thread(() =>
            {
                try
                {
                    var engine = ml.Model.CreatePredictionEngine<ImageInput, Prediction>(transformer);
                    created.SignalAndWait();
                    if (t == 0)
                    {
                        // This thread is done early: its engine disposes the shared transformer under the others.
                        outputs[t] = [engine.Predict(new ImageInput { Image = images[0] })];
                        engine.Dispose();
                        earlyDisposed.SignalAndWait();
                        return;
                    }
                    earlyDisposed.SignalAndWait();
                    var results = images.Select(image => engine.Predict(new ImageInput { Image = image })).ToList();
                    engine.Dispose();
                    // A new engine from the same transformer after others were disposed.
                    using var later = ml.Model.CreatePredictionEngine<ImageInput, Prediction>(transformer);
                    results.Add(later.Predict(new ImageInput { Image = images[t % images.Length] }));
                    outputs[t] = results.ToArray();
                }
                catch (Exception e)
                {
                    errors[t] = e;
                    created.RemoveParticipant();
                    earlyDisposed.RemoveParticipant();
                }
            })).ToArray();
            foreach (var worker in workers) worker.Start();
            foreach (var worker in workers) worker.Join();

            Assert.That(errors.Where(e => e is not null).Select(e => e!.GetType().Name + ": " + e.Message), Is.Empty);
            for (int t = 0; t < threads; t++)
            {
                int[] order = t == 0 ? [0] : [0, 1, 2, t % images.Length];
                for (int k = 0; k < order.Length; k++)
                {
                    var want = expected[order[k]];
                    Assert.That(outputs[t][k].Score, Is.EqualTo(want.Scores), $"thread {t}, prediction {k}");
                    Assert.That(outputs[t][k].PredictedBoundingBoxes, Is.EqualTo(want.Boxes), $"thread {t}, prediction {k}");
                }
            }
            Assert.That(transformer.Model.IsFreed, Is.False, "the transformer's own share is still held");
        }
        finally
        {
            foreach (var image in images) image.Dispose();
        }
    }

    [Test]
    public void DisposingTheLastShareWaitsForTheCallInFlight()
    {
        var transformer = TinyModels.Transformer();
        var model = transformer.Model;
        using var image = TinyModels.RandomImage(ImageSide, ImageSide, 7);
        var expected = transformer.Detect([image])[0];

        ImageDetections inFlight;
        using (model.Use())
        {
            transformer.Dispose();
            Assert.That(model.IsFreed, Is.False, "a call in flight holds the model");
            Assert.Throws<ObjectDisposedException>(() => transformer.Detect([image]), "new calls on a disposed transformer are refused");
            inFlight = model.Graph.Detect([image], transformer.Vocabulary, new InferenceSettings { ScoreThreshold = 0.0, MaxDetections = 10 })[0];
        }

        Assert.That(inFlight.Scores, Is.EqualTo(expected.Scores), "the call in flight ran on intact weights and sessions");
        Assert.That(model.IsFreed, Is.True, "the last share returned frees the model");
        var error = Assert.Throws<ObjectDisposedException>(() => transformer.WithVocabulary(["circle"]));
        Assert.That(error!.Message, Does.Contain("load the model again"));
    }

    [Test]
    public void EachRowMapperHandedOutIsOneDisposeMoreBeforeTheModelIsFreed()
    {
        var ml = new MLContext(seed: 1);
        var transformer = TinyModels.Transformer();
        var first = ml.Model.CreatePredictionEngine<ImageInput, Prediction>(transformer);
        var second = ml.Model.CreatePredictionEngine<ImageInput, Prediction>(transformer);

        first.Dispose();
        second.Dispose();
        Assert.That(transformer.Model.IsFreed, Is.False, "the engines returned their own shares only");
        transformer.Dispose();
        Assert.That(transformer.Model.IsFreed, Is.True);
        transformer.Dispose();   // beyond the shares held: nothing
        Assert.Throws<ObjectDisposedException>(() => ml.Model.CreatePredictionEngine<ImageInput, Prediction>(transformer));
    }
}
