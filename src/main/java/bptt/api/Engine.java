// Engine: the API's one adapter to the engine's Workspace: scoring, predicting, and the API's datasets as the trainer's.
package bptt.api;

import bptt.rnn.Rnn;
import bptt.rnn.RnnConfig;
import bptt.rnn.Schedule;
import bptt.rnn.Workspace;
import bptt.train.Evaluation;
import bptt.train.SyntheticTask;
import bptt.train.Vocabulary;

/**
 * Every use of {@link Workspace} by the API is here: the window loop that scores a model on a
 * {@link Dataset}, the batched forward passes that predict, and {@link Bridge}, which lets the
 * engine's trainer draw windows from an API dataset. Token ids and class targets travel as
 * floats (-1: no class target), real targets as floats (NaN: none), rows time-major (t·B + b).
 */
final class Engine {
    /** Sequences predicted at once. */
    static final int PREDICT_BATCH = 64;

    private Engine() { }

    /**
     * The model's score on {@code data} in windows of (batch, steps): text is scored character by
     * character over the whole text (min(batch, N − 1) streams), a task on its held-out windows,
     * any other data window by window over one epoch.
     */
    static Evaluation.Result evaluate(Rnn rnn, Vocabulary vocabulary, Dataset data, int batch, int steps) {
        RnnConfig config = rnn.config();
        if (data instanceof TextData text) {
            if (vocabulary == null) {
                throw new IllegalArgumentException("this model has no vocabulary, so it cannot score text");
            }
            int[] tokens = text.tokens(vocabulary);
            if (tokens.length < 2) {
                throw new IllegalArgumentException(text.corpus().source() + " has 1 character; scoring needs at least 2,"
                        + " since each character is predicted from the one before it");
            }
            try (Workspace ws = rnn.workspace(Math.min(batch, tokens.length - 1), steps)) {
                return Evaluation.evaluate(ws, tokens);
            }
        }
        if (data instanceof TaskData task) {
            SyntheticTask generator = task.create(batch, steps);
            requireShape(config, generator.model(config.hidden(), config.layers()).withCell(config.cell()), data);
            try (Workspace ws = rnn.workspace(batch, steps)) {
                return generator.validate(ws);
            }
        }
        requireShape(config, data.shape().config().withSizes(config.hidden(), config.layers()).withCell(config.cell()), data);
        try (Workspace ws = rnn.workspace(batch, steps, Schedule.auto())) {
            return score(ws, config, data);
        }
    }

    static void requireShape(RnnConfig model, RnnConfig needed, Dataset data) {
        if (!needed.equals(model)) {
            throw new IllegalArgumentException("the data (" + data.description() + ") is for a model of "
                    + ModelSpec.of(needed, null) + ", but this model is " + ModelSpec.of(model, null));
        }
    }

    /**
     * One epoch of {@code data}'s windows of the workspace's shape: the mean loss over every
     * target, and the accuracy of the largest output (classes) or the mean absolute error (values).
     * The hidden state starts at zero and is carried when the data's windows continue.
     */
    static Evaluation.Result score(Workspace ws, RnnConfig config, Dataset data) {
        int batch = ws.batch();
        int steps = ws.seqLen();
        float[] inputs = new float[Math.multiplyExact(batch * steps, config.tokenInput() ? 1 : config.inputSize())];
        float[] targets = new float[Math.multiplyExact(config.targetRows(batch, steps), config.targetWidth())];
        Window window = new Window(config, batch, steps, inputs, targets);
        boolean regression = config.output().regression();
        int width = config.targetWidth();
        double lossSum = 0;
        double absSum = 0;
        long scored = 0;
        long correct = 0;
        int windows = data.windows(batch, steps);
        for (int w = 0; w < windows; w++) {
            window.clear();
            data.fill(0, w, window);
            if (w == 0 || !data.continuesSequences()) {
                ws.resetState();
            }
            load(config, inputs, targets, ws.window());
            if (ws.targetCount() == 0) {
                ws.advance();
            } else if (regression) {
                float[] predicted = ws.predictValues();
                for (int i = 0; i < predicted.length; i++) {
                    if (!Float.isNaN(targets[i - i % width])) {
                        absSum += Math.abs((double) predicted[i] - targets[i]);
                    }
                }
            } else {
                int[] predicted = ws.predict();
                for (int r = 0; r < predicted.length; r++) {
                    correct += targets[r] >= 0 && predicted[r] == (int) targets[r] ? 1 : 0;
                }
            }
            if (ws.targetCount() > 0) {
                lossSum += ws.forward() * ws.targetCount();
                scored += ws.targetCount();
            }
            if (data.continuesSequences()) {
                ws.carryState();
            }
        }
        if (scored == 0) {
            throw new IllegalArgumentException("the data (" + data.description() + ") has no targets to score");
        }
        return regression ? new Evaluation.Result(lossSum / scored, scored, Double.NaN, absSum / (scored * width))
                : new Evaluation.Result(lossSum / scored, scored, (double) correct / scored);
    }

    /**
     * The output layer's values (bias included) for every step, or every sequence, of {@code data}:
     * (N·T or N, outputs) row-major, in the data's order. Sequences are run {@link #PREDICT_BATCH}
     * at a time, each from a zero state, with checkpointed activations (memory O(√T)).
     */
    static float[] predict(Rnn rnn, Sequences data) {
        RnnConfig config = rnn.config();
        requireInputs(config, data);
        int n = data.count();
        int t = data.length();
        int d = config.tokenInput() ? 1 : config.inputSize();
        int width = config.outputSize();
        int rowsPer = config.output().perSequence() ? 1 : t;
        float[] x = data.viewInputs();                                   // (N·T, D) sequence-major
        float[] out = new float[Math.multiplyExact(Math.multiplyExact(n, rowsPer), width)];
        Workspace ws = null;
        try {
            for (int n0 = 0; n0 < n; n0 += PREDICT_BATCH) {
                int b = Math.min(PREDICT_BATCH, n - n0);
                if (ws == null || ws.batch() != b) {
                    if (ws != null) {
                        ws.close();
                    }
                    ws = rnn.workspace(b, t, Schedule.auto());
                }
                float[] window = new float[Math.multiplyExact(t * b, d)];  // (T·B, D) time-major
                for (int s = 0; s < b; s++) {
                    for (int step = 0; step < t; step++) {
                        System.arraycopy(x, ((n0 + s) * t + step) * d, window, (step * b + s) * d, d);
                    }
                }
                loadInputs(config, window, ws.window());
                ws.resetState();
                float[] y = ws.predictValues();                            // (T·B or B, outputs) time-major
                for (int r = 0; r < y.length / width; r++) {
                    int s = r % b;
                    int step = r / b;
                    System.arraycopy(y, r * width, out, ((n0 + s) * rowsPer + step) * width, width);
                }
            }
        } finally {
            if (ws != null) {
                ws.close();
            }
        }
        if (!config.output().regression()) {
            softmaxRows(out, width);
        }
        return out;
    }

    /** Copies a window's inputs, (T·B, 1) token ids or (T·B, D) features as floats, into the workspace's window. */
    static void loadInputs(RnnConfig config, float[] inputs, bptt.rnn.Window into) {
        if (config.tokenInput()) {
            for (int r = 0; r < inputs.length; r++) {
                into.setToken(r, (int) inputs[r]);
            }
        } else {
            into.setInputs(inputs);
        }
    }

    /** Copies a window's inputs and targets (rows of a class id, −1: none; or of D_out values, NaN: none) into the workspace's window. */
    static void load(RnnConfig config, float[] inputs, float[] targets, bptt.rnn.Window into) {
        loadInputs(config, inputs, into);
        int width = config.targetWidth();
        for (int r = 0; r < into.targetRows(); r++) {
            if (config.output().regression()) {
                into.setTargetValues(r, targets, r * width);
            } else {
                into.setTarget(r, (int) targets[r]);
            }
        }
    }

    /** The reverse of {@link #load}: a workspace window's inputs and targets as floats. */
    static void read(RnnConfig config, bptt.rnn.Window from, float[] inputs, float[] targets) {
        int d = config.tokenInput() ? 1 : config.inputSize();
        for (int r = 0; r < from.rows(); r++) {
            for (int j = 0; j < d; j++) {
                inputs[r * d + j] = config.tokenInput() ? from.token(r) : from.input(r, j);
            }
        }
        int width = config.targetWidth();
        boolean regression = config.output().regression();
        for (int r = 0; r < from.targetRows(); r++) {
            for (int j = 0; j < width; j++) {
                targets[r * width + j] = regression ? from.targetValue(r, j) : from.target(r);
            }
        }
    }

    private static void requireInputs(RnnConfig config, Sequences data) {
        ModelSpec in = data.hasTokens() ? ModelSpec.tokens(data.inputWidth()) : ModelSpec.dense(data.inputWidth());
        if (in.tokenInput() != config.tokenInput() || in.inputSize() != config.inputSize()) {
            throw new IllegalArgumentException("the model reads " + (config.tokenInput() ? "tokens of " : "dense input of ")
                    + config.inputSize() + " but the data is " + (in.tokenInput() ? "tokens of " : "dense input of ")
                    + in.inputSize());
        }
    }

    private static void softmaxRows(float[] values, int width) {
        for (int r = 0; r < values.length / width; r++) {
            double max = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < width; j++) {
                max = Math.max(max, values[r * width + j]);
            }
            double sum = 0;
            for (int j = 0; j < width; j++) {
                sum += Math.exp(values[r * width + j] - max);
            }
            for (int j = 0; j < width; j++) {
                values[r * width + j] = (float) (Math.exp(values[r * width + j] - max) / sum);
            }
        }
    }

    /** The trainer's view of an API dataset: windows of (batch, steps) for {@code model}. */
    static bptt.train.Dataset forTrainer(Dataset data, RnnConfig model, Vocabulary vocabulary, int batch, int steps) {
        return data instanceof BuiltinData builtin ? builtin.engine(batch, steps)
                : new Bridge(data, model, vocabulary, batch, steps);
    }

    /** An API dataset as the engine's, validated on its held-out part. */
    private static final class Bridge implements bptt.train.Dataset {
        private final Dataset data;
        private final RnnConfig model;
        private final Vocabulary vocabulary;
        private final int batch;
        private final int steps;
        private final float[] inputs;    // (T·B, D) time-major, or (T·B, 1) token ids
        private final float[] targets;   // (target rows, target width)
        private final Window window;     // the dataset's view of inputs and targets, filled once per step

        Bridge(Dataset data, RnnConfig model, Vocabulary vocabulary, int batch, int steps) {
            this.data = data;
            this.model = model;
            this.vocabulary = vocabulary;
            this.batch = batch;
            this.steps = steps;
            this.inputs = new float[Math.multiplyExact(batch * steps, model.tokenInput() ? 1 : model.inputSize())];
            this.targets = new float[Math.multiplyExact(model.targetRows(batch, steps), model.targetWidth())];
            this.window = new Window(model, batch, steps, inputs, targets);
            if (data.windows(batch, steps) < 1) {
                throw new IllegalArgumentException("the data (" + data.description() + ") has no windows of " + batch
                        + " × " + steps);
            }
        }

        @Override
        public String description() { return data.description(); }

        @Override
        public String kind() { return "sequences"; }

        @Override
        public RnnConfig model(int hidden, int layers) { return model.withSizes(hidden, layers); }

        @Override
        public int batch() { return batch; }

        @Override
        public int seqLen() { return steps; }

        @Override
        public int windowsPerEpoch() { return data.windows(batch, steps); }

        @Override
        public void fill(int epoch, int index, bptt.rnn.Window into) {
            window.clear();
            data.fill(epoch, index, window);
            load(model, inputs, targets, into);
        }

        @Override
        public boolean carriesState() { return data.continuesSequences(); }

        @Override
        public Vocabulary vocabulary() { return vocabulary; }

        @Override
        public Evaluation.Result validate(Workspace ws) {
            Dataset held = data.heldOut();
            return held == null ? null : score(ws, model, held);
        }
    }
}
