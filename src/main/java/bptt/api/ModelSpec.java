// ModelSpec: what a model is (input, cell, layers, hidden size, output), as an immutable value built in one chain.
package bptt.api;

import bptt.rnn.OutputKind;
import bptt.rnn.RnnConfig;
import bptt.train.Vocabulary;

import java.util.Objects;

/**
 * The shape of a recurrent model, built by chaining: an input ({@link #dense} features or
 * {@link #tokens} of a vocabulary), then optionally the {@link #cell}, {@link #layers} and
 * {@link #hidden} size (tanh, 1 layer and 128 units by default), then the output:
 *
 * <pre>{@code
 * ModelSpec.dense(3).cell(CellType.LSTM).hidden(64).valuesPerStep(1)   // forecasting, MSE
 * ModelSpec.dense(8).classPerSequence(5)                                 // sequence classification
 * ModelSpec.tokens(65)                                                   // a language model (65 classes per step)
 * }</pre>
 *
 * The layers are PyTorch's {@code nn.RNN}, {@code nn.LSTM} or {@code nn.GRU}, the output layer
 * {@code nn.Linear(hidden, outputs)}: softmax cross-entropy for classes, mean squared error for
 * values. A per-sequence output reads the state after the sequence's last step. Every method
 * returns a new spec; an invalid size throws IllegalArgumentException at once.
 */
public final class ModelSpec {
    static final int DEFAULT_HIDDEN = 128;

    private final int inputSize;
    private final boolean tokenInput;
    private final String vocabulary;    // the characters of a text model's tokens, or null
    private final CellType cell;
    private final int hidden;
    private final int layers;
    private final OutputKind output;    // null until chosen
    private final int outputSize;

    private ModelSpec(int inputSize, boolean tokenInput, String vocabulary, CellType cell, int hidden, int layers,
                      OutputKind output, int outputSize) {
        positive("input size", inputSize);
        positive("hidden size", hidden);
        positive("layers", layers);
        if (output != null) {
            positive(output.regression() ? "output values" : "output classes", outputSize);
        }
        this.inputSize = inputSize;
        this.tokenInput = tokenInput;
        this.vocabulary = vocabulary;
        this.cell = Objects.requireNonNull(cell, "cell");
        this.hidden = hidden;
        this.layers = layers;
        this.output = output;
        this.outputSize = outputSize;
    }

    private static void positive(String what, int value) {
        if (value <= 0) {
            throw new IllegalArgumentException(what + " must be positive, got " + value);
        }
    }

    /**
     * A model reading {@code features} real values per step; choose its output next.
     *
     * @param features D, the values per step
     * @return the spec, with no output yet
     */
    public static ModelSpec dense(int features) {
        return new ModelSpec(features, false, null, CellType.TANH, DEFAULT_HIDDEN, 1, null, 0);
    }

    /**
     * A model reading one token id in [0, vocabulary) per step (one-hot input); its output is a
     * class of the same vocabulary per step (a language model) unless another is chosen.
     *
     * @param vocabulary V, the number of token ids
     * @return the spec
     */
    public static ModelSpec tokens(int vocabulary) {
        return new ModelSpec(vocabulary, true, null, CellType.TANH, DEFAULT_HIDDEN, 1, OutputKind.CLASSES, vocabulary);
    }

    /**
     * A character-level language model: token i is the i-th character (code point) of
     * {@code characters}, and the output is the next character. Checkpoints keep the characters.
     *
     * @param characters the vocabulary: distinct characters in ascending code point order (as
     *                   bptt makes them: a text's distinct characters, sorted)
     * @return the spec
     */
    public static ModelSpec text(String characters) {
        int v = Vocabulary.fromCharacters(characters).size();
        return new ModelSpec(v, true, characters, CellType.TANH, DEFAULT_HIDDEN, 1, OutputKind.CLASSES, v);
    }

    /**
     * @param type the recurrent cell of every layer
     * @return this spec with that cell
     */
    public ModelSpec cell(CellType type) {
        return new ModelSpec(inputSize, tokenInput, vocabulary, type, hidden, layers, output, outputSize);
    }

    /**
     * @param units H, the hidden size of every layer
     * @return this spec with that hidden size
     */
    public ModelSpec hidden(int units) {
        return new ModelSpec(inputSize, tokenInput, vocabulary, cell, units, layers, output, outputSize);
    }

    /**
     * @param count L, stacked layers (layer l reads layer l−1's output, as in PyTorch)
     * @return this spec with that many layers
     */
    public ModelSpec layers(int count) {
        return new ModelSpec(inputSize, tokenInput, vocabulary, cell, hidden, count, output, outputSize);
    }

    /**
     * @param classes the number of classes, one predicted at every step (softmax cross-entropy)
     * @return this spec with that output
     */
    public ModelSpec classesPerStep(int classes) { return output(OutputKind.CLASSES, classes); }

    /**
     * @param classes the number of classes, one predicted per sequence from its last step
     * @return this spec with that output
     */
    public ModelSpec classPerSequence(int classes) { return output(OutputKind.SEQUENCE_CLASS, classes); }

    /**
     * @param values D_out, the real values predicted at every step (mean squared error)
     * @return this spec with that output
     */
    public ModelSpec valuesPerStep(int values) { return output(OutputKind.VALUES, values); }

    /**
     * @param values D_out, the real values predicted per sequence from its last step (mean squared error)
     * @return this spec with that output
     */
    public ModelSpec valuesPerSequence(int values) { return output(OutputKind.SEQUENCE_VALUES, values); }

    private ModelSpec output(OutputKind kind, int size) {
        String keep = kind == OutputKind.CLASSES && size == inputSize ? vocabulary : null;
        return new ModelSpec(inputSize, tokenInput, keep, cell, hidden, layers, kind, size);
    }

    /** @return D for dense input, V for tokens */
    public int inputSize() { return inputSize; }

    /** @return true when the input is token ids, false for dense features */
    public boolean tokenInput() { return tokenInput; }

    /** @return the characters of a text model's tokens, or null */
    public String vocabulary() { return vocabulary; }

    /** @return the recurrent cell */
    public CellType cell() { return cell; }

    /** @return H */
    public int hidden() { return hidden; }

    /** @return L */
    public int layers() { return layers; }

    /** @return true when an output has been chosen */
    public boolean hasOutput() { return output != null; }

    /** @return the classes or values of the output (0 before one is chosen) */
    public int outputSize() { return outputSize; }

    /** @return true for real values (mean squared error), false for classes */
    public boolean regression() { return output != null && output.regression(); }

    /** @return true when the output is one prediction per sequence, false for one per step */
    public boolean perSequence() { return output != null && output.perSequence(); }

    /** The engine's shape of this model; fails, saying how to choose one, when there is no output yet. */
    RnnConfig config() {
        if (output == null) {
            throw new IllegalArgumentException("the model has no output yet: choose classesPerStep, classPerSequence,"
                    + " valuesPerStep or valuesPerSequence");
        }
        return new RnnConfig(inputSize, tokenInput, hidden, layers, outputSize, cell.cell, output);
    }

    /** The spec of an engine model, with the characters of its tokens (or null). */
    static ModelSpec of(RnnConfig config, String vocabulary) {
        return new ModelSpec(config.inputSize(), config.tokenInput(), vocabulary, CellType.of(config.cell()),
                config.hidden(), config.layers(), config.output(), config.outputSize());
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ModelSpec m && inputSize == m.inputSize && tokenInput == m.tokenInput
                && Objects.equals(vocabulary, m.vocabulary) && cell == m.cell && hidden == m.hidden && layers == m.layers
                && output == m.output && outputSize == m.outputSize;
    }

    @Override
    public int hashCode() {
        return Objects.hash(inputSize, tokenInput, vocabulary, cell, hidden, layers, output, outputSize);
    }

    /** @return e.g. "lstm, 2 layers × 64, dense input of 3, 1 value per step" */
    @Override
    public String toString() {
        return cell + ", " + layers + (layers == 1 ? " layer" : " layers") + " × " + hidden + ", "
                + (tokenInput ? "tokens of " : "dense input of ") + inputSize + ", " + outputText();
    }

    /** "1 value per step", "5 classes, one per sequence", … */
    String outputText() {
        return output == null ? "no output yet" : outputSize + switch (output) {
            case CLASSES -> outputSize == 1 ? " class per step" : " classes per step";
            case SEQUENCE_CLASS -> " classes, one per sequence";
            case VALUES -> outputSize == 1 ? " value per step" : " values per step";
            case SEQUENCE_VALUES -> (outputSize == 1 ? " value" : " values") + " per sequence";
        };
    }
}
