// Dataset: where training windows come from; implement it to stream your own sequences, or use the built-in ones.
package bptt.api;

import java.nio.file.Path;

/**
 * A source of training windows. Training asks for window {@code w} of epoch {@code e} (w from 0
 * to {@link #windows} − 1) and hands a {@link Window} of B sequences × T steps to {@link #fill};
 * the same (e, w) must always give the same data, so that a resumed run sees exactly what an
 * uninterrupted one would. {@link Sequences} holds data in memory; implement this interface to
 * stream data that does not fit, e.g. from files, a window at a time:
 *
 * <pre>{@code
 * Dataset stream = new Dataset() {
 *     public ModelSpec shape() { return ModelSpec.dense(4).valuesPerStep(1); }
 *     public int windows(int batch, int steps) { return 1000; }
 *     public void fill(int epoch, int window, Window out) {
 *         for (int b = 0; b < out.batch(); b++)
 *             for (int t = 0; t < out.steps(); t++) {
 *                 out.input(b, t, read(epoch, window, b, t));
 *                 out.target(b, t, next(epoch, window, b, t));
 *             }
 *     }
 * };
 * }</pre>
 */
public interface Dataset {
    /**
     * The input and output of the model this data trains (a spec whose cell, layers and hidden
     * size are irrelevant: the model's own count).
     *
     * @return a spec with the input and the output set
     */
    ModelSpec shape();

    /**
     * Windows in one epoch, for windows of {@code batch} sequences of {@code steps} steps.
     *
     * @param batch B
     * @param steps T
     * @return the number of windows, at least 1
     * @throws IllegalArgumentException when the data cannot be cut into such windows (say why)
     */
    int windows(int batch, int steps);

    /**
     * Writes window {@code window} of epoch {@code epoch} into {@code out}, which arrives empty.
     *
     * @param epoch  the pass over the data, from 0
     * @param window the window within the epoch, from 0
     * @param out    where the inputs and targets go
     */
    void fill(int epoch, int window, Window out);

    /**
     * Whether window w + 1 continues window w's sequences (truncated BPTT: the hidden state is
     * carried from one window to the next within an epoch), or starts new ones.
     *
     * @return true to carry the state; false (the default) to start every window from zero
     */
    default boolean continuesSequences() { return false; }

    /**
     * The window length the data fixes (e.g. sequences of one length that a per-sequence target
     * ends), or 0 when windows may have any length.
     *
     * @return T, or 0 (the default)
     */
    default int steps() { return 0; }

    /**
     * Data held out for validation: scored during and after training, never trained on.
     *
     * @return the held-out data, or null (the default)
     */
    default Dataset heldOut() { return null; }

    /** @return one line on what the data is */
    default String description() { return getClass().getSimpleName(); }

    /**
     * A character-level language model's data: a UTF-8 text file, whose distinct characters are
     * the vocabulary; the last {@code heldOut} fraction of it is validation data. Windows are B
     * contiguous streams, carried on from window to window (PyTorch's word-language-model batching).
     *
     * @param file    a UTF-8 text file
     * @param heldOut the fraction held out, in [0, 1)
     * @return the data
     */
    static Dataset text(Path file, double heldOut) { return Failures.call(() -> TextData.load(file, heldOut)); }

    /**
     * The same for text in memory.
     *
     * @param text    the text
     * @param heldOut the fraction held out, in [0, 1)
     * @return the data
     */
    static Dataset text(String text, double heldOut) { return TextData.of(text, heldOut); }

    /**
     * The built-in corpus (a few pages of English prose), which needs no download.
     *
     * @param heldOut the fraction held out, in [0, 1)
     * @return the data
     */
    static Dataset builtinText(double heldOut) { return TextData.builtin(heldOut); }

    /**
     * A long-range task generated from a seed: {@code copy} (remember 5 of 8 symbols across the
     * window) or {@code adding} (the sum of two marked values, as 41 classes); any window length
     * works, and held-out windows come from a seed no training window uses.
     *
     * @param name copy or adding
     * @param seed the seed of the sequences
     * @return the task's data
     */
    static Dataset task(String name, long seed) { return TaskData.of(name, seed); }
}
