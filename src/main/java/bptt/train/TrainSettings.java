// TrainSettings: every knob of a training run, validated in one place with messages that say what to do.
package bptt.train;

import bptt.rnn.Cell;

/**
 * @param hidden       H
 * @param layers       L
 * @param batch        B, contiguous streams
 * @param seqLen       T, steps per truncated-BPTT window
 * @param steps        optimizer steps to take in total (0 = initialise and save only)
 * @param lr           learning rate
 * @param optimizer    sgd, adam or adagrad
 * @param clip         global-norm clipping threshold, 0 = off
 * @param seed         seeds initialisation and sampling
 * @param valFraction  tail of the text held out for validation
 * @param saveEvery    steps between checkpoints (0 = only at the end)
 * @param sampleEvery  steps between printed samples (0 = never)
 * @param evalEvery    steps between validation passes (0 = only at the end)
 * @param cell         the recurrent cell: tanh, LSTM or GRU
 */
public record TrainSettings(int hidden, int layers, int batch, int seqLen, int steps, float lr, Optimizer.Kind optimizer,
                            float clip, long seed, double valFraction, int saveEvery, int sampleEvery, int evalEvery,
                            Cell cell) {
    /** Settings of a tanh RNN. */
    public TrainSettings(int hidden, int layers, int batch, int seqLen, int steps, float lr, Optimizer.Kind optimizer,
                         float clip, long seed, double valFraction, int saveEvery, int sampleEvery, int evalEvery) {
        this(hidden, layers, batch, seqLen, steps, lr, optimizer, clip, seed, valFraction, saveEvery, sampleEvery,
                evalEvery, Cell.TANH);
    }

    public TrainSettings {
        positive("--hidden", hidden);
        positive("--layers", layers);
        positive("--batch", batch);
        positive("--seq-len", seqLen);
        nonNegative("--steps", steps);
        nonNegative("--save-every", saveEvery);
        nonNegative("--sample-every", sampleEvery);
        nonNegative("--eval-every", evalEvery);
        if (!(lr > 0) || Float.isInfinite(lr)) {
            throw new IllegalArgumentException("--lr must be a positive number, got " + lr);
        }
        if (!(clip >= 0) || Float.isInfinite(clip)) {
            throw new IllegalArgumentException("--clip must be >= 0 (0 turns clipping off), got " + clip);
        }
        if (!(valFraction >= 0 && valFraction < 1)) {
            throw new IllegalArgumentException("--val-fraction must be in [0, 1), got " + valFraction);
        }
        if (cell == null) {
            throw new IllegalArgumentException("--cell must be tanh, lstm or gru");
        }
    }

    private static void positive(String flag, int value) {
        if (value <= 0) {
            throw new IllegalArgumentException(flag + " must be a positive integer, got " + value);
        }
    }

    private static void nonNegative(String flag, int value) {
        if (value < 0) {
            throw new IllegalArgumentException(flag + " must be >= 0, got " + value);
        }
    }
}
