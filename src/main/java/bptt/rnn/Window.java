// Window: a workspace's (T·B) window on the host — token ids or dense input rows, and target classes or values — in the backend's staging buffers.
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
 * <p>Targets are one row per position (T·B) or, for a per-sequence output, one per sequence (B):
 * a class id each ({@link #setTarget}), or D_out real values each for a regression output
 * ({@link #setTargetValues}), with a 0/1 mask row beside them saying which rows are scored.
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
    private final int targetRows;          // T·B, or B per sequence
    private final int targetWidth;         // 1, or D_out for values
    private final boolean regression;
    private final StagingBuffer inputs;    // T·B ids, or T·B·D floats
    private final StagingBuffer targets;   // targetRows classes (−1 = no target), or targetRows·D_out values (0 where none)
    private final StagingBuffer mask;      // regression: targetRows of 1 (scored) or 0; else null
    private int targetCount;
    private boolean uploading;             // uploads from the buffers may still be queued on the device

    /** A window of B sequences of T steps, inputs zero and no targets, whose uploads copy at most {@code uploadRows} rows. */
    Window(Backend be, RnnConfig cfg, int batch, int seqLen, int uploadRows) {
        this.be = be;
        this.rows = batch * seqLen;
        this.tokens = cfg.tokenInput();
        this.inputSize = cfg.inputSize();
        this.classes = cfg.outputSize();
        this.regression = cfg.output().regression();
        this.targetRows = cfg.targetRows(batch, seqLen);
        this.targetWidth = cfg.targetWidth();
        int width = tokens ? 1 : inputSize;
        this.inputs = be.allocStaging((long) rows * width, tokens ? StagingBuffer.Encoding.forIds(inputSize)
                : StagingBuffer.Encoding.FLOAT32, uploadRows * width);
        StagingBuffer t = null;
        try {
            int uploadTargets = Math.min(uploadRows, targetRows);
            t = be.allocStaging((long) targetRows * targetWidth, regression ? StagingBuffer.Encoding.FLOAT32
                    : StagingBuffer.Encoding.forIds(classes), uploadTargets * targetWidth);
            if (regression) {
                this.mask = be.allocStaging(targetRows, StagingBuffer.Encoding.FLOAT32, uploadTargets);
                for (long i = 0; i < t.length(); i++) {
                    t.putFloat(i, 0f);
                }
                for (int r = 0; r < targetRows; r++) {
                    mask.putFloat(r, 0f);
                }
            } else {
                this.mask = null;
                t.fillInt(-1);
            }
            this.targets = t;
        } catch (RuntimeException e) {
            if (t != null) {
                be.freeStaging(t);
            }
            be.freeStaging(inputs);
            throw e;
        }
    }

    /**
     * A window of B sequences of T steps of its own, outside any workspace (in {@code be}'s
     * staging memory): what a dataset fills when its windows are read back rather than trained on.
     */
    public static Window standalone(Backend be, RnnConfig cfg, int batch, int seqLen) {
        return new Window(be, cfg, batch, seqLen, batch * seqLen);
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

    /** Target rows: T·B, or B for a per-sequence output. */
    public int targetRows() { return targetRows; }

    /**
     * Sets the target class of a target row (row t·B + b, or b per sequence): 0 ≤ class &lt; classes,
     * or −1 for no target (ignored by the loss).
     */
    public void setTarget(int row, int cls) {
        requireRegression(false);
        if (cls < -1 || cls >= classes) {
            throw new IllegalArgumentException("target " + cls + " at row " + row + " is outside [-1, " + classes + ")");
        }
        writable();
        int old = targets.getInt(row);
        targets.putInt(row, cls);
        targetCount += (cls >= 0 ? 1 : 0) - (old >= 0 ? 1 : 0);
    }

    public int target(int row) {
        requireRegression(false);
        return targets.getInt(row);
    }

    /**
     * Sets the D_out target values of a target row (regression outputs) from values[from…]; a row
     * with a NaN among them has no target (ignored by the loss).
     */
    public void setTargetValues(int row, float[] values, int from) {
        requireRegression(true);
        if (row < 0 || row >= targetRows) {
            throw new IndexOutOfBoundsException("target row " + row + " outside [0, " + targetRows + ")");
        }
        boolean scored = true;
        for (int j = 0; j < targetWidth; j++) {
            scored &= !Float.isNaN(values[from + j]);
        }
        writable();
        for (int j = 0; j < targetWidth; j++) {
            targets.putFloat((long) row * targetWidth + j, scored ? values[from + j] : 0f);
        }
        boolean was = mask.value(row) != 0f;
        mask.putFloat(row, scored ? 1f : 0f);
        targetCount += (scored ? 1 : 0) - (was ? 1 : 0);
    }

    /** Marks a target row as having no target, for either kind of output. */
    public void clearTarget(int row) {
        if (regression) {
            float[] none = new float[targetWidth];
            java.util.Arrays.fill(none, Float.NaN);
            setTargetValues(row, none, 0);
        } else {
            setTarget(row, -1);
        }
    }

    /** Value j of a target row's targets (regression outputs; 0 where the row has none). */
    public float targetValue(int row, int j) {
        requireRegression(true);
        return targets.value((long) row * targetWidth + j);
    }

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

    /** Sets every target row's class: classes has {@link #targetRows} values. */
    public void setTargets(int[] classes) {
        requireLength("targets", classes.length, targetRows);
        for (int r = 0; r < targetRows; r++) {
            setTarget(r, classes[r]);
        }
    }

    /** Uploads rows [first, first + n) of the inputs into dst (n, 1 or D). */
    void uploadInputs(int first, bptt.tensor.Tensor dst) {
        be.uploadStaged(inputs, (long) first * (tokens ? 1 : inputSize), dst);
        uploading = true;
    }

    /** Uploads target rows [first, first + n) into dst (n, 1 or D_out) and, for regression, their mask into maskDst (n, 1). */
    void uploadTargets(int first, bptt.tensor.Tensor dst, bptt.tensor.Tensor maskDst) {
        be.uploadStaged(targets, (long) first * targetWidth, dst);
        if (mask != null) {
            be.uploadStaged(mask, first, maskDst);
        }
        uploading = true;
    }

    /** Host bytes of the staging buffers. */
    long stagingBytes() { return inputs.byteSize() + targets.byteSize() + (mask == null ? 0 : mask.byteSize()); }

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

    private void requireRegression(boolean expected) {
        if (regression != expected) {
            throw new IllegalStateException(regression ? "this model's targets are real values, not classes"
                    : "this model's targets are classes, not real values");
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
        if (mask != null) {
            be.freeStaging(mask);
        }
    }
}
