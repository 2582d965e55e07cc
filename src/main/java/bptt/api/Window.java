// Window: one (batch × steps) training window that a Dataset fills, sequence by sequence and step by step.
package bptt.api;

import bptt.rnn.RnnConfig;

import java.util.Arrays;

/**
 * B sequences of T steps that a {@link Dataset} fills: each step's input (features or a token
 * id) and, where the model is scored, its target. Everything starts empty: inputs are zero and
 * no position has a target, so a window that ends early (the end of the data) simply leaves its
 * last steps alone. A target is a class ({@code label}) or real values ({@code target}), at a
 * step or, for a per-sequence output, once per sequence; the model's output decides which.
 */
public final class Window {
    private final RnnConfig model;
    private final int batch;
    private final int steps;
    private final float[] inputs;   // (T·B, 1) token ids or (T·B, D) features; row t·B + b
    private final float[] targets;  // (R, 1) classes (-1: none) or (R, D_out) values (NaN: none); R = T·B or B

    Window(RnnConfig model, int batch, int steps, float[] inputs, float[] targets) {
        this.model = model;
        this.batch = batch;
        this.steps = steps;
        this.inputs = inputs;
        this.targets = targets;
    }

    /** The inputs as the engine takes them, (T·B, 1 or D) time-major. */
    float[] inputArray() { return inputs; }

    /** The targets as the engine takes them, (T·B or B, 1 or D_out). */
    float[] targetArray() { return targets; }

    /** Empties the window: zero inputs, no targets. */
    void clear() {
        Arrays.fill(inputs, 0f);
        Arrays.fill(targets, model.output().regression() ? Float.NaN : -1f);
    }

    /** @return B, the sequences in this window */
    public int batch() { return batch; }

    /** @return T, the steps of every sequence in this window */
    public int steps() { return steps; }

    /**
     * Sets the features of one step (dense input).
     *
     * @param sequence which of the B sequences
     * @param step     which of the T steps
     * @param features D values, all finite
     */
    public void input(int sequence, int step, float... features) {
        if (model.tokenInput()) {
            throw new IllegalArgumentException("this model reads token ids: use token(sequence, step, id)");
        }
        int row = row(sequence, step);
        values("input", features, model.inputSize());
        System.arraycopy(features, 0, inputs, row * model.inputSize(), features.length);
    }

    /**
     * Sets the token of one step (token input).
     *
     * @param sequence which of the B sequences
     * @param step     which of the T steps
     * @param id       a token id in [0, V)
     */
    public void token(int sequence, int step, int id) {
        if (!model.tokenInput()) {
            throw new IllegalArgumentException("this model reads dense features: use input(sequence, step, features)");
        }
        inputs[row(sequence, step)] = classId("token", id, model.inputSize());
    }

    /**
     * Sets the class to predict at one step (a model with classes per step).
     *
     * @param sequence which of the B sequences
     * @param step     which of the T steps
     * @param label    a class in [0, classes)
     */
    public void label(int sequence, int step, int label) {
        require(!model.output().regression() && !model.output().perSequence(), "a class per step");
        targets[row(sequence, step)] = classId("label", label, model.outputSize());
    }

    /**
     * Sets the class of a whole sequence (a model with a class per sequence).
     *
     * @param sequence which of the B sequences
     * @param label    a class in [0, classes)
     */
    public void label(int sequence, int label) {
        require(!model.output().regression() && model.output().perSequence(), "a class per sequence");
        targets[sequence(sequence)] = classId("label", label, model.outputSize());
    }

    /**
     * Sets the values to predict at one step (a model with values per step).
     *
     * @param sequence which of the B sequences
     * @param step     which of the T steps
     * @param values   D_out values, all finite
     */
    public void target(int sequence, int step, float... values) {
        require(model.output().regression() && !model.output().perSequence(), "values per step");
        values("target", values, model.outputSize());
        System.arraycopy(values, 0, targets, row(sequence, step) * values.length, values.length);
    }

    /**
     * Sets the values to predict for a whole sequence (a model with values per sequence).
     *
     * @param sequence which of the B sequences
     * @param values   D_out values, all finite
     */
    public void target(int sequence, float... values) {
        require(model.output().regression() && model.output().perSequence(), "values per sequence");
        values("target", values, model.outputSize());
        System.arraycopy(values, 0, targets, sequence(sequence) * values.length, values.length);
    }

    /** Step t of sequence b's input from src[from…]: D features, or one token id (already checked by the caller). */
    void putInput(int sequence, int step, float[] src, int from) {
        int d = model.tokenInput() ? 1 : model.inputSize();
        System.arraycopy(src, from, inputs, row(sequence, step) * d, d);
    }

    /**
     * The target row of step t of sequence b (of sequence b when t is -1, per sequence) from
     * src[from…]: one class id or D_out values, "none" (-1, NaN) included, as stored.
     */
    void putTarget(int sequence, int step, float[] src, int from) {
        int w = model.targetWidth();
        System.arraycopy(src, from, targets, (step < 0 ? sequence(sequence) : row(sequence, step)) * w, w);
    }

    private void require(boolean fits, String what) {
        if (!fits) {
            throw new IllegalArgumentException("this model does not predict " + what + ": it predicts "
                    + ModelSpec.of(model, null).outputText());
        }
    }

    private int sequence(int sequence) {
        if (sequence < 0 || sequence >= batch) {
            throw new IndexOutOfBoundsException("sequence " + sequence + " is outside the window's " + batch);
        }
        return sequence;
    }

    private int row(int sequence, int step) {
        if (step < 0 || step >= steps) {
            throw new IndexOutOfBoundsException("step " + step + " is outside the window's " + steps);
        }
        return step * batch + sequence(sequence);
    }

    private static void values(String what, float[] values, int expected) {
        if (values.length != expected) {
            throw new IllegalArgumentException("an " + what + " has " + expected + " value" + (expected == 1 ? "" : "s")
                    + ", got " + values.length);
        }
        for (float v : values) {
            if (!Float.isFinite(v)) {
                throw new IllegalArgumentException("an " + what + " value is " + v + "; every value must be finite");
            }
        }
    }

    private static float classId(String what, int id, int count) {
        if (id < 0 || id >= count) {
            throw new IllegalArgumentException("a " + what + " is in [0, " + count + "), got " + id);
        }
        return id;
    }
}
