// Model: a recurrent model's weights on a device: train, evaluate, predict, sample, save.
package bptt.api;

import bptt.rnn.Rnn;
import bptt.train.Checkpoint;
import bptt.train.CheckpointIo;
import bptt.train.Sampler;
import bptt.train.TrainingState;
import bptt.train.Vocabulary;

import java.nio.file.Path;
import java.util.Map;
import java.util.function.IntPredicate;

/**
 * A stacked RNN (tanh, LSTM or GRU layers, as PyTorch's) with an output layer, its weights on a
 * {@link Device}.
 *
 * <pre>{@code
 * try (Device device = Device.open("auto");
 *      Model model = Model.create(device, ModelSpec.dense(1).cell(CellType.LSTM).hidden(32).valuesPerStep(1), 1)) {
 *     model.fit(data, TrainOptions.defaults().steps(200));
 *     Scores scores = model.evaluate(data.heldOut());
 *     model.save(Path.of("model.safetensors"));
 * }
 * }</pre>
 */
public final class Model implements AutoCloseable {
    private final Device device;
    private final Rnn rnn;
    private final ModelSpec spec;
    private final Vocabulary vocabulary;   // a text model's characters, or null

    Model(Device device, Rnn rnn, ModelSpec spec) {
        this.device = device;
        this.rnn = rnn;
        this.spec = spec;
        this.vocabulary = spec.vocabulary() == null ? null : Vocabulary.fromCharacters(spec.vocabulary());
    }

    /**
     * A new model with PyTorch's initialisation: every weight and bias uniform in ±1/√H.
     *
     * @param device where the weights live
     * @param spec   the model, with its output chosen
     * @param seed   the seed of the initial weights
     * @return the model; close it before the device
     */
    public static Model create(Device device, ModelSpec spec, long seed) {
        return Failures.call(() -> {
            Rnn rnn = new Rnn(device.backend, spec.config());
            rnn.initialize(seed);
            return new Model(device, rnn, spec);
        });
    }

    /**
     * Reads a checkpoint ({@link #save}, {@link Training#save}, or PyTorch's) onto a device.
     *
     * @param device where the weights go
     * @param file   a .safetensors file
     * @return the model
     * @throws BpttException when the file is missing, corrupt or not a model of this kind
     */
    public static Model load(Device device, Path file) { return SavedModel.read(file).open(device); }

    /**
     * Re-initialises LSTM or GRU keep-gate biases for memories of up to {@code maxSteps} steps
     * (chrono initialisation, Tallec &amp; Ollivier 2018): PyTorch's initialisation from
     * {@code seed}, then each unit's keep-gate bias log U(1, maxSteps − 1).
     *
     * @param seed     the seed of the weights
     * @param maxSteps the longest dependency to keep, at least 3
     */
    public void initializeChrono(long seed, int maxSteps) { rnn.initializeChrono(seed, maxSteps); }

    /**
     * Replaces the weights with a checkpoint's, which must hold a model of this spec.
     *
     * @param saved the checkpoint
     * @throws BpttException when it holds another model or vocabulary (naming the difference)
     */
    public void loadWeights(SavedModel saved) {
        Failures.run(() -> {
            TrainingState.requireSameModel(rnn.config(), vocabulary == null ? null : vocabulary.codePoints(),
                    saved.checkpoint);
            device.backend.upload(saved.checkpoint.params(), rnn.params());
        });
    }

    /** @return the model's shape */
    public ModelSpec spec() { return spec; }

    /** @return the device its weights are on */
    public Device device() { return device; }

    /** @return the number of weights and biases */
    public long parameterCount() { return rnn.layout().total(); }

    /**
     * Trains on {@code data} for {@code options.steps()} steps (validating on its held-out part,
     * if any): {@link Training#start} and {@link Training#run()} in one call.
     *
     * @param data    the training data, whose shape must match the model's input and output
     * @param options how to train
     * @return what the run did
     * @throws DivergedException when the loss or gradients stop being finite
     */
    public Training.Result fit(Dataset data, TrainOptions options) {
        try (Training training = Training.start(this, data, options)) {
            return training.run();
        }
    }

    /**
     * The model's score on all of {@code data}, in windows of 32 sequences and the data's own
     * length (or 64 steps).
     *
     * @param data what to score: its every target (a text: every character after the first)
     * @return the mean loss and the accuracy or mean absolute error
     */
    public Scores evaluate(Dataset data) {
        return evaluate(data, 32, TrainOptions.defaults().windowFor(data));
    }

    /**
     * The same in windows of {@code batch} × {@code steps}.
     *
     * @param data  what to score
     * @param batch B, sequences (or streams) per window
     * @param steps T, steps per window
     * @return the mean loss and the accuracy or mean absolute error
     */
    public Scores evaluate(Dataset data, int batch, int steps) {
        if (data == null) {
            throw new IllegalArgumentException("no data to evaluate on (a dataset without a held-out part has none)");
        }
        return Failures.call(() -> Scores.of(Engine.evaluate(rnn, vocabulary, data, batch, steps)));
    }

    /**
     * The model's outputs for every step of every sequence ({@code N × T × outputs}) or, with a
     * per-sequence output, for every sequence ({@code N × 1 × outputs}): real values, or the
     * probabilities of the classes. Each sequence starts from a zero state; a series is one
     * sequence. Targets in {@code data} are ignored.
     *
     * @param data the inputs
     * @return the outputs, sequence by sequence
     */
    public float[][][] predict(Sequences data) {
        float[] flat = Failures.call(() -> Engine.predict(rnn, data));
        int n = data.count();
        int width = spec.outputSize();
        int rows = flat.length / width / n;
        float[][][] out = new float[n][rows][width];
        for (int s = 0; s < n; s++) {
            for (int r = 0; r < rows; r++) {
                System.arraycopy(flat, (s * rows + r) * width, out[s][r], 0, width);
            }
        }
        return out;
    }

    /**
     * The most probable class at every step of every sequence ({@code N × T}), or of every
     * sequence ({@code N × 1}).
     *
     * @param data the inputs
     * @return the classes, sequence by sequence
     */
    public int[][] predictClasses(Sequences data) {
        if (spec.regression()) {
            throw new IllegalArgumentException("this model predicts real values: use predict");
        }
        float[][][] p = predict(data);
        int[][] classes = new int[p.length][];
        for (int s = 0; s < p.length; s++) {
            classes[s] = new int[p[s].length];
            for (int r = 0; r < p[s].length; r++) {
                int best = 0;
                for (int k = 1; k < p[s][r].length; k++) {
                    best = p[s][r][k] > p[s][r][best] ? k : best;
                }
                classes[s][r] = best;
            }
        }
        return classes;
    }

    /**
     * Text from a character model: the prime, then {@code length} characters drawn one at a
     * time from softmax(logits / temperature).
     *
     * @param prime       text to condition on (its characters must be in the vocabulary); "" for none
     * @param length      characters to generate
     * @param temperature above 0; lower is more conservative
     * @param seed        the seed of the draws
     * @return the prime followed by the generated characters
     */
    public String sample(String prime, int length, double temperature, long seed) {
        StringBuilder out = new StringBuilder();
        sample(prime, length, temperature, seed, cp -> {
            out.appendCodePoint(cp);
            return true;
        });
        return out.toString();
    }

    /**
     * The same, handing each character (code point) to {@code sink} as it is made; the sink
     * returns false to stop.
     *
     * @param prime       text to condition on; "" for none
     * @param length      characters to generate
     * @param temperature above 0
     * @param seed        the seed of the draws
     * @param sink        receives each code point; false stops
     */
    public void sample(String prime, int length, double temperature, long seed, IntPredicate sink) {
        if (vocabulary == null) {
            throw new IllegalArgumentException("this model has no vocabulary, so it cannot produce text");
        }
        Failures.run(() -> Sampler.sample(rnn, vocabulary, prime, length, temperature, seed, sink::test));
    }

    /**
     * Writes the weights as a safetensors file with PyTorch's names, atomically (a crash leaves
     * the previous file intact).
     *
     * @param file the .safetensors file
     */
    public void save(Path file) {
        Failures.run(() -> CheckpointIo.save(file, new Checkpoint(rnn.config(),
                vocabulary == null ? null : vocabulary.codePoints(), device.backend.download(rnn.params()), Map.of(),
                Map.of())));
    }

    Rnn rnn() { return rnn; }

    Vocabulary vocabulary() { return vocabulary; }

    /** Frees the weights on the device. */
    @Override
    public void close() { rnn.close(); }
}
