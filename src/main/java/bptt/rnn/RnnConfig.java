// RnnConfig: the shape of a tanh RNN (input kind and size, hidden size, layers, output classes).
package bptt.rnn;

/**
 * @param inputSize  V for one-hot token input, D for dense feature input
 * @param tokenInput true: inputs are token ids (gather); false: dense (B,D) rows (GEMM)
 * @param hidden     H, the hidden size of every layer
 * @param layers     L, stacked as in PyTorch (layer l reads layer l-1's output)
 * @param outputSize V, the number of classes of the softmax output
 */
public record RnnConfig(int inputSize, boolean tokenInput, int hidden, int layers, int outputSize) {
    public RnnConfig {
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
    }

    /** A character-level language model: V one-hot inputs, V output classes. */
    public static RnnConfig charModel(int vocab, int hidden, int layers) {
        return new RnnConfig(vocab, true, hidden, layers, vocab);
    }

    /** Input width of layer l. */
    public int layerInput(int l) { return l == 0 ? inputSize : hidden; }
}
