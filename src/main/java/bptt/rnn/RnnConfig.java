// RnnConfig: the shape of a stacked RNN (input kind and size, hidden size, layers, cell, output kind and size).
package bptt.rnn;

/**
 * @param inputSize  V for one-hot token input, D for dense feature input
 * @param tokenInput true: inputs are token ids (gather); false: dense (B,D) rows (GEMM)
 * @param hidden     H, the hidden size of every layer
 * @param layers     L, stacked as in PyTorch (layer l reads layer l-1's output)
 * @param outputSize V, the number of classes of a softmax output, or D_out, the real values of a
 *                   regression output
 * @param cell       the recurrent cell of every layer: tanh, LSTM or GRU
 * @param output     what the output layer predicts: classes or values, per step or per sequence
 */
public record RnnConfig(int inputSize, boolean tokenInput, int hidden, int layers, int outputSize, Cell cell,
                        OutputKind output) {
    public RnnConfig {
        if (output == null) {
            throw new IllegalArgumentException("an output is needed: classes or values, per step or per sequence");
        }
        if (inputSize <= 0) {
            throw new IllegalArgumentException("input size must be positive, got " + inputSize);
        }
        if (hidden <= 0) {
            throw new IllegalArgumentException("hidden size must be positive, got " + hidden + "; try --hidden 128");
        }
        if (layers <= 0) {
            throw new IllegalArgumentException("layers must be positive, got " + layers + "; try --layers 1");
        }
        if (outputSize <= 0) {
            throw new IllegalArgumentException("output size must be positive, got " + outputSize);
        }
        if (tokenInput && inputSize >= (1 << 24)) {
            throw new IllegalArgumentException("vocabulary of " + inputSize + " exceeds 2^24 token ids");
        }
        if (cell == null) {
            throw new IllegalArgumentException("a cell is needed: tanh, lstm or gru");
        }
        if ((long) cell.gates() * hidden > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("hidden size " + hidden + " gives " + (long) cell.gates() * hidden
                    + " gate rows per layer (" + cell.gates() + " gates of " + cell.option() + "), more than 2^31-1;"
                    + " use a smaller --hidden");
        }
    }

    /** A model with a class at every step (softmax cross-entropy). */
    public RnnConfig(int inputSize, boolean tokenInput, int hidden, int layers, int outputSize, Cell cell) {
        this(inputSize, tokenInput, hidden, layers, outputSize, cell, OutputKind.CLASSES);
    }

    /** A tanh RNN. */
    public RnnConfig(int inputSize, boolean tokenInput, int hidden, int layers, int outputSize) {
        this(inputSize, tokenInput, hidden, layers, outputSize, Cell.TANH);
    }

    /** A character-level tanh RNN language model: V one-hot inputs, V output classes. */
    public static RnnConfig charModel(int vocab, int hidden, int layers) {
        return charModel(Cell.TANH, vocab, hidden, layers);
    }

    /** A character-level language model of the given cell. */
    public static RnnConfig charModel(Cell cell, int vocab, int hidden, int layers) {
        return new RnnConfig(vocab, true, hidden, layers, vocab, cell);
    }

    /** The same shape with another cell. */
    public RnnConfig withCell(Cell other) {
        return new RnnConfig(inputSize, tokenInput, hidden, layers, outputSize, other, output);
    }

    /** The same model with another output kind (of the same size). */
    public RnnConfig withOutput(OutputKind other) {
        return new RnnConfig(inputSize, tokenInput, hidden, layers, outputSize, cell, other);
    }

    /** The same input, cell and output with another hidden size and layer count. */
    public RnnConfig withSizes(int hiddenSize, int layerCount) {
        return new RnnConfig(inputSize, tokenInput, hiddenSize, layerCount, outputSize, cell, output);
    }

    /** Values per target row: 1 class id, or D_out real values. */
    public int targetWidth() { return output.regression() ? outputSize : 1; }

    /** Target rows of a (batch, seqLen) window: T·B, or B for a per-sequence output. */
    public int targetRows(int batch, int seqLen) { return output.perSequence() ? batch : batch * seqLen; }

    /** Input width of layer l. */
    public int layerInput(int l) { return l == 0 ? inputSize : hidden; }

    /** G·H: the width of the stacked gates (rows of weight_ih and weight_hh). */
    public int gateWidth() { return cell.gates() * hidden; }
}
