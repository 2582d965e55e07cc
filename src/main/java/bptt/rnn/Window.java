// Window: a workspace's (T·B) window on the host — token ids or dense input rows, and target classes — in the backend's staging buffers.
package bptt.rnn;

import bptt.backend.Backend;
import bptt.backend.StagingBuffer;

/**
 * The data of one window, row t·B + b for sequence b at step t, held on the host in staging
 * buffers the backend provides ({@link Backend#allocStaging}): token ids and targets in the
 * smallest integer type that holds them (one byte each for V ≤ 128), dense inputs as float rows.
 * The {@link Workspace} uploads one segment of it at a time, in the backward sweep as well as
 * forward, so nothing of size T·B lives on the device when checkpointing is on.
 *
 * <p>Fill it, then run the workspace's forward (and backward) pass; do not change it between a
 * forward pass and its backward pass. Writes wait for the device to finish reading earlier
 * uploads first.
 */
public final class Window implements AutoCloseable {
    private final Backend be;
    private final int rows;
    private final boolean tokens;
    private final int inputSize;
    private final int classes;
    private final StagingBuffer inputs;    // T·B ids, or T·B·D floats
    private final StagingBuffer targets;   // T·B classes, −1 = no target
    private int targetCount;
    private boolean uploading;             // uploads from the buffers may still be queued on the device

    /** A window of {@code rows} rows, inputs zero and no targets, whose uploads copy at most {@code uploadRows} rows. */
    Window(Backend be, RnnConfig cfg, int rows, int uploadRows) {
        this.be = be;
        this.rows = rows;
        this.tokens = cfg.tokenInput();
        this.inputSize = cfg.inputSize();
        this.classes = cfg.outputSize();
        int width = tokens ? 1 : inputSize;
        this.inputs = be.allocStaging((long) rows * width, tokens ? StagingBuffer.Encoding.forIds(inputSize)
                : StagingBuffer.Encoding.FLOAT32, uploadRows * width);
        try {
            this.targets = be.allocStaging(rows, StagingBuffer.Encoding.forIds(classes), uploadRows);
            targets.fillInt(-1);
        } catch (RuntimeException e) {
            be.freeStaging(inputs);
            throw e;
        }
    }

    /** T·B. */
    public int rows() { return rows; }

    /** Whether the model reads token ids (else dense rows of {@link #inputSize} features). */
    public boolean tokenInput() { return tokens; }

    /** V for token ids, D for dense rows. */
    public int inputSize() { return inputSize; }

    /** Sets the token id of a row (token-input models): 0 ≤ id < V. */
    public void setToken(int row, int id) {
        requireTokens(true);
        if (id < 0 || id >= inputSize) {
            throw new IllegalArgumentException("token id " + id + " at row " + row + " is outside the vocabulary [0, "
                    + inputSize + ")");
        }
        writable();
        inputs.putInt(row, id);
    }

    public int token(int row) {
        requireTokens(true);
        return inputs.getInt(row);
    }

    /** Sets feature {@code col} of a row (dense-input models). */
    public void setInput(int row, int col, float value) {
        requireTokens(false);
        writable();
        inputs.putFloat(featureIndex(row, col), value);
    }

    public float input(int row, int col) {
        requireTokens(false);
        return inputs.value(featureIndex(row, col));
    }

    /** Sets the target class of a row: 0 ≤ class < classes, or −1 for no target (ignored by the loss). */
    public void setTarget(int row, int cls) {
        if (cls < -1 || cls >= classes) {
            throw new IllegalArgumentException("target " + cls + " at row " + row + " is outside [-1, " + classes + ")");
        }
        writable();
        int old = targets.getInt(row);
        targets.putInt(row, cls);
        targetCount += (cls >= 0 ? 1 : 0) - (old >= 0 ? 1 : 0);
    }

    public int target(int row) { return targets.getInt(row); }

    /** Positions with a target (not −1). */
    public int targetCount() { return targetCount; }

    /** Sets every row's token id: ids has T·B values. */
    public void setTokens(int[] ids) {
        requireLength("token ids", ids.length, rows);
        for (int r = 0; r < rows; r++) {
            setToken(r, ids[r]);
        }
    }

    /** Sets every row's features: values has T·B·D values, row-major. */
    public void setInputs(float[] values) {
        requireTokens(false);
        requireLength("inputs", values.length, (long) rows * inputSize);
        writable();
        inputs.putFloats(0, values, 0, values.length);
    }

    /** Sets every row's target: classes has T·B values. */
    public void setTargets(int[] classes) {
        requireLength("targets", classes.length, rows);
        for (int r = 0; r < rows; r++) {
            setTarget(r, classes[r]);
        }
    }

    /** Uploads rows [first, first + n) of the inputs into dst (n, 1 or D). */
    void uploadInputs(int first, bptt.tensor.Tensor dst) {
        be.uploadStaged(inputs, (long) first * (tokens ? 1 : inputSize), dst);
        uploading = true;
    }

    /** Uploads rows [first, first + n) of the targets into dst (n, 1). */
    void uploadTargets(int first, bptt.tensor.Tensor dst) {
        be.uploadStaged(targets, first, dst);
        uploading = true;
    }

    /** Host bytes of the two staging buffers. */
    long stagingBytes() { return inputs.byteSize() + targets.byteSize(); }

    private void writable() {
        if (uploading) {
            be.synchronize();
            uploading = false;
        }
    }

    private long featureIndex(int row, int col) {
        if (col < 0 || col >= inputSize) {
            throw new IndexOutOfBoundsException("feature " + col + " outside [0, " + inputSize + ")");
        }
        return (long) row * inputSize + col;
    }

    private void requireTokens(boolean expected) {
        if (tokens != expected) {
            throw new IllegalStateException(tokens ? "this model reads token ids, not dense inputs"
                    : "this model reads dense inputs, not token ids");
        }
    }

    private static void requireLength(String what, long got, long expected) {
        if (got != expected) {
            throw new IllegalArgumentException(what + ": " + got + " values for a window of " + expected);
        }
    }

    @Override
    public void close() {
        be.freeStaging(inputs);
        be.freeStaging(targets);
    }
}
