// Sequences: data held in memory (one long series, or N sequences of one length) with its targets, as a Dataset.
package bptt.api;

import bptt.rnn.OutputKind;
import bptt.train.MackeyGlass;
import bptt.train.NumericFiles;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Sequences in memory, in one of two forms:
 * <ul>
 *   <li>a <b>series</b>: one long sequence of L steps ({@link #series}, a CSV, a (T, D) .npy). It
 *       is cut into B contiguous streams, stream b holding steps [b·L/B, (b+1)·L/B); window w
 *       feeds steps [w·T, w·T + T) of every stream and the hidden state is carried from window
 *       to window (truncated BPTT), so windows may have any length T;</li>
 *   <li><b>sequences</b>: N independent sequences of T steps each ({@link #of}, {@link #tokens},
 *       an (N, T, D) .npy). A window holds B whole sequences (in a fresh order every epoch, the
 *       same for every run), each starting from a zero state; the last window of an epoch may
 *       hold fewer.</li>
 * </ul>
 * Then the targets: {@link #forecast} (values some steps ahead), {@link #targets} (values) or
 * {@link #labels} (classes), per step or, for sequences, one per sequence; and optionally
 * {@link #holdOut} a fraction for validation. Every method returns a new object over the same
 * arrays (never copied in, so do not change them afterwards).
 *
 * <pre>{@code
 * Sequences data = Sequences.read(Path.of("series.csv")).forecast(1, 0).holdOut(0.1);
 * }</pre>
 */
public final class Sequences implements Dataset {
    private final boolean series;
    private final int count;          // N (1 for a series)
    private final int length;         // T, or L for a series
    private final int features;       // D (1 for tokens)
    private final int vocabulary;     // V of token input, 0 for dense
    private final float[] inputs;     // (N·T, D), row n·T + t; token ids as floats
    private final List<String> columns;
    private final List<String> targetNames;  // the names of the target values (forecast columns), or null
    private final OutputKind output;  // null until targets are given
    private final int outputSize;     // classes or D_out
    private final float[] targets;    // (N·T, W) per step or (N, W) per sequence; W = 1 class (-1: none) or D_out (NaN: none)
    private final String description;
    private final double heldOutFraction;
    private final int first;          // the view: sequences (or series steps) [first, first + size)
    private final int size;

    private Sequences(boolean series, int count, int length, int features, int vocabulary, float[] inputs,
                      List<String> columns, List<String> targetNames, OutputKind output, int outputSize, float[] targets, String description,
                      double heldOutFraction, int first, int size) {
        this.series = series;
        this.count = count;
        this.length = length;
        this.features = features;
        this.vocabulary = vocabulary;
        this.inputs = inputs;
        this.columns = columns;
        this.targetNames = targetNames;
        this.output = output;
        this.outputSize = outputSize;
        this.targets = targets;
        this.description = description;
        this.heldOutFraction = heldOutFraction;
        this.first = first;
        this.size = size;
    }

    private Sequences withTargets(OutputKind kind, int width, float[] values) {
        return withTargets(kind, width, values, null);
    }

    private Sequences withTargets(OutputKind kind, int width, float[] values, List<String> names) {
        return new Sequences(series, count, length, features, vocabulary, inputs, columns, names, kind, width, values,
                description, heldOutFraction, first, size);
    }

    /** This data's view [from, from + n) of its sequences (or series steps), with no part held out. */
    private Sequences view(int from, int n, String what) {
        return new Sequences(series, count, length, features, vocabulary, inputs, columns, targetNames, output,
                outputSize, targets, what, 0, from, n);
    }

    // ---- inputs ----------------------------------------------------------------------------

    /**
     * One long sequence of real values.
     *
     * @param steps L × D: the features of every step
     * @return the series, without targets yet
     */
    public static Sequences series(float[][] steps) {
        int d = width(steps, "series step");
        return dense(true, 1, steps.length, d, flatten(new float[][][]{steps}, d), "series of " + steps.length + " steps");
    }

    /**
     * N independent sequences of real values, all of one length.
     *
     * @param sequences N × T × D
     * @return the sequences, without targets yet
     */
    public static Sequences of(float[][][] sequences) {
        if (sequences.length == 0) {
            throw new IllegalArgumentException("no sequences given");
        }
        int t = length(sequences.length, i -> sequences[i].length);
        int d = width(sequences[0], "step");
        for (float[][] s : sequences) {
            width(s, "step", d);
        }
        return dense(false, sequences.length, t, d, flatten(sequences, d), sequences.length + " sequences of " + t + " steps");
    }

    /**
     * N independent sequences of token ids, all of one length.
     *
     * @param sequences  N × T ids
     * @param vocabulary V: every id is in [0, V)
     * @return the sequences, without targets yet
     */
    public static Sequences tokens(int[][] sequences, int vocabulary) {
        if (sequences.length == 0) {
            throw new IllegalArgumentException("no sequences given");
        }
        int t = length(sequences.length, i -> sequences[i].length);
        float[] ids = new float[Math.multiplyExact(sequences.length, t)];
        for (int n = 0; n < sequences.length; n++) {
            for (int s = 0; s < t; s++) {
                int id = sequences[n][s];
                if (id < 0 || id >= vocabulary) {
                    throw new IllegalArgumentException("token " + id + " of sequence " + n + " (step " + s
                            + ") is outside the vocabulary [0, " + vocabulary + ")");
                }
                ids[n * t + s] = id;
            }
        }
        return new Sequences(false, sequences.length, t, 1, vocabulary, ids, List.of("token"), null, null, 0, null,
                sequences.length + " token sequences of " + t + " steps", 0, 0, sequences.length);
    }

    /**
     * A numeric CSV (a series: one row per step, one column per feature, optional header) or a
     * NumPy .npy of float32: (T,) or (T, D) is a series, (N, T, D) sequences. Bad files (ragged
     * rows, text, NaN, another dtype or shape) throw IllegalArgumentException naming the problem.
     *
     * @param file a .csv or .npy file
     * @return its data, without targets yet
     */
    public static Sequences read(Path file) {
        NumericFiles.Array a = NumericFiles.read(file);
        boolean isSeries = a.shape().length == 2;
        int n = isSeries ? 1 : a.shape()[0];
        int t = a.shape()[a.shape().length - 2];
        return new Sequences(isSeries, n, t, a.width(), 0, a.values(), a.columns(), null, null, 0, null,
                file + (isSeries ? " (" + t + " steps × " + a.width() + ")" : " (" + n + " sequences × " + t + " steps × "
                        + a.width() + ")"), 0, 0, isSeries ? t : n);
    }

    /**
     * The Mackey-Glass series (τ = 17, standardised), generated from a seed, with its forecast
     * target: the next value. A chaotic signal whose next value depends on the one 17 steps back.
     *
     * @param steps L, the samples (one per time unit)
     * @param seed  which stretch of the attractor
     * @return the series with targets {@code forecast(1, 0)}
     */
    public static Sequences mackeyGlass(int steps, long seed) {
        float[] values = MackeyGlass.series(steps, seed);
        return new Sequences(true, 1, steps, 1, 0, values, List.of("x"), null, null, 0, null,
                "Mackey-Glass series (tau 17) of " + steps + " steps, seed " + seed, 0, 0, steps).forecast(1, 0);
    }

    private static Sequences dense(boolean series, int n, int t, int d, float[] values, String description) {
        List<String> names = new ArrayList<>();
        for (int j = 0; j < d; j++) {
            names.add(Integer.toString(j));
        }
        return new Sequences(series, n, t, d, 0, values, names, null, null, 0, null, description, 0, 0, series ? t : n);
    }

    // ---- targets ---------------------------------------------------------------------------

    /**
     * Predict columns {@code horizon} steps ahead (real values per step, mean squared error): the
     * target at step t is those columns at step t + horizon (the last {@code horizon} steps of
     * each sequence have none). With horizon 0 the columns are predicted from the other columns
     * at the same step and are no longer inputs.
     *
     * @param horizon steps ahead, 0 or more
     * @param columns the columns to predict (indices of the features); none means all
     * @return this data with those targets
     */
    public Sequences forecast(int horizon, int... columns) {
        requireDense("forecast");
        if (horizon < 0 || horizon >= length) {
            throw new IllegalArgumentException("the forecast horizon must be in [0, " + length + "), got " + horizon);
        }
        int[] cols = columns.length == 0 ? allColumns() : columns.clone();
        for (int c : cols) {
            if (c < 0 || c >= features) {
                throw new IllegalArgumentException("column " + c + " does not exist: the data has columns 0 to "
                        + (features - 1) + (this.columns.isEmpty() ? "" : " (" + String.join(", ", this.columns) + ")"));
            }
        }
        if (Arrays.stream(cols).distinct().count() != cols.length) {
            throw new IllegalArgumentException("a target column is named twice: " + Arrays.toString(cols));
        }
        int w = cols.length;
        float[] y = new float[Math.multiplyExact(count * length, w)];
        Arrays.fill(y, Float.NaN);
        for (int n = 0; n < count; n++) {
            for (int t = 0; t + horizon < length; t++) {
                for (int j = 0; j < w; j++) {
                    y[(n * length + t) * w + j] = inputs[(n * length + t + horizon) * features + cols[j]];
                }
            }
        }
        Sequences withY = withTargets(OutputKind.VALUES, w, y, Arrays.stream(cols).mapToObj(this.columns::get).toList());
        return horizon > 0 ? withY : withY.dropColumns(cols);
    }

    /** The same data without the given input columns. */
    private Sequences dropColumns(int[] dropped) {
        List<Integer> kept = new ArrayList<>();
        for (int j = 0; j < features; j++) {
            final int col = j;
            if (Arrays.stream(dropped).noneMatch(c -> c == col)) {
                kept.add(j);
            }
        }
        if (kept.isEmpty()) {
            throw new IllegalArgumentException("predicting every column at the same step leaves no input: use a horizon"
                    + " of 1 or more, or keep some columns as inputs");
        }
        int rows = count * length;
        float[] x = new float[Math.multiplyExact(rows, kept.size())];
        for (int r = 0; r < rows; r++) {
            for (int j = 0; j < kept.size(); j++) {
                x[r * kept.size() + j] = inputs[r * features + kept.get(j)];
            }
        }
        return new Sequences(series, count, length, kept.size(), vocabulary, x,
                kept.stream().map(columns::get).toList(), targetNames, output, outputSize, targets, description,
                heldOutFraction, first, size);
    }

    /**
     * Real values to predict at every step: for a series (L × D_out), or for sequences one
     * value vector per sequence (N × D_out, predicted from the last step).
     *
     * @param values one row per step (series) or per sequence
     * @return this data with those targets
     */
    public Sequences targets(float[][] values) {
        int w = width(values, "target");
        int rows = series ? length : count;
        if (values.length != rows) {
            throw new IllegalArgumentException(series ? "a series of " + length + " steps needs " + length
                    + " target rows, got " + values.length : count + " sequences need " + count + " target rows (one per"
                    + " sequence), got " + values.length);
        }
        return withTargets(series ? OutputKind.VALUES : OutputKind.SEQUENCE_VALUES, w, flatten(new float[][][]{values}, w));
    }

    /**
     * Real values to predict at every step of every sequence.
     *
     * @param values N × T × D_out
     * @return this data with those targets
     */
    public Sequences targets(float[][][] values) {
        requireSequences("per-step targets of N sequences");
        if (values.length != count || length(values.length, i -> values[i].length) != length) {
            throw new IllegalArgumentException("targets must be " + count + " × " + length + " × D_out, like the inputs");
        }
        int w = width(values[0], "target");
        return withTargets(OutputKind.VALUES, w, flatten(values, w));
    }

    /**
     * Classes to predict: for a series one per step (L labels), for sequences one per sequence
     * (N labels, predicted from the last step).
     *
     * @param labels  one class per step (series) or per sequence
     * @param classes the number of classes; every label is in [0, classes)
     * @return this data with those targets
     */
    public Sequences labels(int[] labels, int classes) {
        int rows = series ? length : count;
        if (labels.length != rows) {
            throw new IllegalArgumentException((series ? "a series of " + length + " steps needs " + length
                    : count + " sequences need " + count) + " labels, got " + labels.length);
        }
        return withTargets(series ? OutputKind.CLASSES : OutputKind.SEQUENCE_CLASS, classes, classIds(labels, classes));
    }

    /**
     * Classes to predict at every step of every sequence.
     *
     * @param labels  N × T classes
     * @param classes the number of classes; every label is in [0, classes)
     * @return this data with those targets
     */
    public Sequences labels(int[][] labels, int classes) {
        requireSequences("per-step labels of N sequences");
        if (labels.length != count || length(labels.length, i -> labels[i].length) != length) {
            throw new IllegalArgumentException("labels must be " + count + " × " + length + ", like the inputs");
        }
        int[] flat = new int[count * length];
        for (int n = 0; n < count; n++) {
            System.arraycopy(labels[n], 0, flat, n * length, length);
        }
        return withTargets(OutputKind.CLASSES, classes, classIds(flat, classes));
    }

    /**
     * Classes to predict taken from an input column, which stops being an input: for a series the
     * column's value at every step, for sequences its value at each sequence's last step (one
     * class per sequence). Every value must be a whole number in [0, classes).
     *
     * @param column  the column holding the class ids
     * @param classes the number of classes
     * @return this data with those targets
     */
    public Sequences labelColumn(int column, int classes) {
        requireDense("labelColumn");
        if (column < 0 || column >= features) {
            throw new IllegalArgumentException("column " + column + " does not exist: the data has columns 0 to "
                    + (features - 1));
        }
        int rows = series ? length : count;
        int[] labels = new int[rows];
        for (int r = 0; r < rows; r++) {
            float v = inputs[(series ? r : r * length + length - 1) * features + column];
            if (v != Math.rint(v)) {
                throw new IllegalArgumentException("column " + this.columns.get(column) + " holds " + v + " at "
                        + (series ? "step " : "the last step of sequence ") + r + "; class ids are whole numbers");
            }
            labels[r] = (int) v;
        }
        return dropColumns(new int[]{column}).labels(labels, classes);
    }

    private static float[] classIds(int[] labels, int classes) {
        if (classes <= 0) {
            throw new IllegalArgumentException("the number of classes must be positive, got " + classes);
        }
        float[] ids = new float[labels.length];
        for (int i = 0; i < labels.length; i++) {
            if (labels[i] < 0 || labels[i] >= classes) {
                throw new IllegalArgumentException("label " + labels[i] + " (row " + i + ") is outside [0, " + classes + ")");
            }
            ids[i] = labels[i];
        }
        return ids;
    }

    /**
     * Holds out the last {@code fraction} for validation (of a series its last steps, of
     * sequences the last ones): {@link #heldOut} returns it, and training never sees it.
     *
     * @param fraction in [0, 1)
     * @return this data with that part held out
     */
    public Sequences holdOut(double fraction) {
        if (!(fraction >= 0 && fraction < 1)) {
            throw new IllegalArgumentException("the held-out fraction must be in [0, 1), got " + fraction);
        }
        int all = series ? length : count;
        int held = (int) Math.floor(all * fraction);
        if (held == all) {
            throw new IllegalArgumentException("holding out " + fraction + " leaves nothing to train on");
        }
        return new Sequences(series, count, length, features, vocabulary, inputs, columns, targetNames, output,
                outputSize, targets, description, fraction, 0, all - held);
    }

    // ---- what it is ------------------------------------------------------------------------

    /** @return the names of the input columns (a CSV's header, else "0", "1", …) */
    public List<String> columns() { return columns; }

    /**
     * The last steps of a series' training part (all of it when shorter), nothing held out.
     *
     * @param steps how many
     * @return that stretch of the series
     */
    public Sequences tail(int steps) {
        if (!series) {
            throw new IllegalArgumentException("tail takes the last steps of a series");
        }
        int n = Math.min(steps, size);
        return view(first + size - n, n, description + ", last " + n + " steps");
    }

    /**
     * @param j a target value's index
     * @return the name of the column a forecast predicts as value j, else j
     */
    public String targetName(int j) { return targetNames != null ? targetNames.get(j) : Integer.toString(j); }

    /** True for token ids. */
    boolean hasTokens() { return vocabulary > 0; }

    /** V of token ids, D of features. */
    int inputWidth() { return vocabulary > 0 ? vocabulary : features; }

    /** @return true for one long series, false for N sequences */
    public boolean isSeries() { return series; }

    /** @return N, the sequences of this view (1 for a series) */
    public int count() { return series ? 1 : size; }

    /** @return the steps of each sequence (of a series: the steps of this view) */
    public int length() { return series ? size : length; }

    /** @return the fraction held out by {@link #holdOut} */
    public double heldOutFraction() { return heldOutFraction; }

    @Override
    public ModelSpec shape() {
        ModelSpec in = vocabulary > 0 ? ModelSpec.tokens(vocabulary) : ModelSpec.dense(features);
        if (output == null) {
            throw new IllegalArgumentException("the data has no targets yet: give them with forecast, targets or labels");
        }
        return switch (output) {
            case CLASSES -> in.classesPerStep(outputSize);
            case SEQUENCE_CLASS -> in.classPerSequence(outputSize);
            case VALUES -> in.valuesPerStep(outputSize);
            case SEQUENCE_VALUES -> in.valuesPerSequence(outputSize);
        };
    }

    @Override
    public int steps() { return series ? 0 : length; }

    @Override
    public boolean continuesSequences() { return series; }

    @Override
    public String description() {
        int all = series ? length : count;
        return description + (size < all ? ", " + (all - size) + (series ? " steps" : " sequences") + " held out" : "");
    }

    @Override
    public Dataset heldOut() {
        int all = series ? length : count;
        if (size == all) {
            return null;
        }
        return view(size, all - size, description + ", held-out part");
    }

    @Override
    public int windows(int batch, int steps) {
        positive(batch, steps);
        if (series) {
            return Math.max(1, ((size + batch - 1) / batch + steps - 1) / steps);
        }
        if (steps != length) {
            throw new IllegalArgumentException("these sequences are " + length + " steps long, so a window holds whole"
                    + " sequences of " + length + " steps, not " + steps + " (for long sequences, keep the window and"
                    + " checkpoint the activations instead)");
        }
        return (size + batch - 1) / batch;
    }

    @Override
    public void fill(int epoch, int window, Window out) {
        int batch = out.batch();
        int steps = out.steps();
        shape();
        if (series) {
            for (int b = 0; b < batch; b++) {
                int start = (int) ((long) b * size / batch);
                int end = (int) ((long) (b + 1) * size / batch);
                for (int t = 0; t < steps; t++) {
                    int pos = start + window * steps + t;
                    if (pos < end) {
                        put(out, b, t, first + pos);
                    }
                }
            }
            return;
        }
        int[] order = order(epoch);
        for (int b = 0; b < batch && window * batch + b < size; b++) {
            int n = first + order[window * batch + b];
            for (int t = 0; t < steps; t++) {
                put(out, b, t, n * length + t);
            }
            if (output.perSequence()) {
                out.putTarget(b, -1, targets, n * outputWidth());
            }
        }
    }

    /** Row {@code row} of the inputs (and its per-step target) as step t of sequence b. */
    private void put(Window out, int b, int t, int row) {
        out.putInput(b, t, inputs, row * features);
        if (!output.perSequence()) {
            out.putTarget(b, t, targets, row * outputWidth());
        }
    }

    private int outputWidth() { return output.regression() ? outputSize : 1; }

    /** The sequences of this view in epoch e's order: a permutation from a seed of e alone. */
    private int[] order(int epoch) {
        int[] order = new int[size];
        for (int i = 0; i < size; i++) {
            order[i] = i;
        }
        SplittableRandom random = new SplittableRandom(0x5eed_0000L + epoch);
        for (int i = size - 1; i > 0; i--) {
            int j = random.nextInt(i + 1);
            int keep = order[i];
            order[i] = order[j];
            order[j] = keep;
        }
        return order;
    }

    /** The inputs of this view, sequence-major (N·T, D): what a model predicts from. */
    float[] viewInputs() {
        int rows = series ? size : size * length;
        int from = series ? first : first * length;
        return Arrays.copyOfRange(inputs, from * features, (from + rows) * features);
    }

    /** The targets of this view, as stored (per step (N·T, W), per sequence (N, W)), or null. */
    float[] viewTargets() {
        if (output == null) {
            return null;
        }
        int w = outputWidth();
        int rows = output.perSequence() ? size : series ? size : size * length;
        int from = output.perSequence() ? first : series ? first : first * length;
        return Arrays.copyOfRange(targets, from * w, (from + rows) * w);
    }

    // ---- checks ----------------------------------------------------------------------------

    private void requireDense(String what) {
        if (vocabulary > 0) {
            throw new IllegalArgumentException(what + " needs real-valued inputs, not token ids");
        }
    }

    private void requireSequences(String what) {
        if (series) {
            throw new IllegalArgumentException(what + " need N sequences; a series takes targets(float[][]) or labels(int[], classes)");
        }
    }

    private int[] allColumns() {
        int[] all = new int[features];
        for (int j = 0; j < features; j++) {
            all[j] = j;
        }
        return all;
    }

    private static void positive(int batch, int steps) {
        if (batch <= 0 || steps <= 0) {
            throw new IllegalArgumentException("windows need a positive batch and length, got " + batch + " × " + steps);
        }
    }

    private interface Lengths {
        int of(int i);
    }

    private static int length(int n, Lengths lengths) {
        int t = lengths.of(0);
        for (int i = 1; i < n; i++) {
            if (lengths.of(i) != t) {
                throw new IllegalArgumentException("sequence " + i + " has " + lengths.of(i) + " steps but sequence 0 has "
                        + t + "; sequences given together must have one length (group them by length)");
            }
        }
        if (t == 0) {
            throw new IllegalArgumentException("sequences need at least one step");
        }
        return t;
    }

    private static int width(float[][] rows, String what) {
        if (rows.length == 0) {
            throw new IllegalArgumentException("no " + what + "s given");
        }
        return width(rows, what, rows[0].length);
    }

    private static int width(float[][] rows, String what, int d) {
        if (d == 0) {
            throw new IllegalArgumentException("a " + what + " needs at least one value");
        }
        for (int i = 0; i < rows.length; i++) {
            if (rows[i].length != d) {
                throw new IllegalArgumentException(what + " " + i + " has " + rows[i].length + " values but " + what
                        + " 0 has " + d);
            }
            for (float v : rows[i]) {
                if (!Float.isFinite(v)) {
                    throw new IllegalArgumentException(what + " " + i + " holds " + v + "; every value must be finite");
                }
            }
        }
        return d;
    }

    private static float[] flatten(float[][][] blocks, int d) {
        int rows = 0;
        for (float[][] b : blocks) {
            rows = Math.addExact(rows, b.length);
        }
        float[] flat = new float[Math.multiplyExact(rows, d)];
        int at = 0;
        for (float[][] b : blocks) {
            for (float[] row : b) {
                System.arraycopy(row, 0, flat, at, d);
                at += d;
            }
        }
        return flat;
    }
}
