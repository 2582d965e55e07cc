// MemoryEstimate: the memory plan of a run, tensor by tensor (device, host staging, Java heap), computed from its sizes alone before anything is allocated.
package bptt.train;

import bptt.backend.AbstractBackend;
import bptt.backend.Backend;
import bptt.backend.StagingBuffer;
import bptt.rnn.Cell;
import bptt.rnn.ParameterLayout;
import bptt.rnn.RnnConfig;
import bptt.rnn.Schedule;
import bptt.rnn.Workspace;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Function;
import java.util.function.IntFunction;

/**
 * Every allocation a run makes, as {@link Item}s: what the Rnn, the optimizer and the
 * {@code Workspace} allocate on the backend, the window's host staging buffers, and the Java heap
 * its host-side objects need. Everything is computed in closed form with saturating long
 * arithmetic, so any flag value (--layers 2000000000) answers at once.
 *
 * <ul>
 *   <li>parameters P = {@link ParameterLayout#count}; the Rnn holds parameters and gradients, (1, P) each;</li>
 *   <li>optimizer state: Adam m and v, Adagrad its cache, (1, P) each; SGD none;</li>
 *   <li>the workspace, under the plan {@link Workspace#plan} makes (k steps per segment, S per
 *       output chunk): one segment's inputs (k·B, 1 or D) and targets (k·B, 1) on the device — a
 *       regression output's targets (k·B, D_out) and a (k·B, 1) mask, per sequence (B, ·) — the
 *       whole window's on the host (T·B ids in the smallest integer type that holds them, or T·B·D
 *       floats; a device scratch of k·B ids of that width where the backend widens on the device);
 *       per layer h0, hT and dnext (B, H), the kept states — one ((len + 1)·B, H) block per
 *       resident segment with full storage, or ((k + 1)·B, H) plus ((segments − 1)·B, H) boundaries
 *       when checkpointed — and dh (k·B, H); LSTM the same again for c; LSTM and GRU their gates,
 *       (steps kept·B, G·H); GRU hn (steps kept·B, H), its (B, 3H) recurrent product and (k·B, 3H)
 *       recurrent gate gradients; logits (L·B, V), losses (L·B, 1) and the loss sum (1, 1), with
 *       L = T when full storage keeps every step's logits, else S (L·B = B for a per-sequence output);</li>
 *   <li>Java heap (estimates for a 64-bit JVM with compressed references): the per-step views
 *       the workspace makes once (a Cell.Step and 4 to 6 tensor views for every step it keeps),
 *       and what {@link #withHeap} adds (a checkpoint's host copies, the corpus).</li>
 * </ul>
 *
 * @param parameters P, floats in the parameter slab
 * @param plan       segments and chunks of the workspace
 * @param items      every allocation
 */
public record MemoryEstimate(long parameters, Schedule.Plan plan, List<Item> items) {

    /** Where an item lives. */
    public enum Place { DEVICE, HOST, HEAP }

    /**
     * {@code count} allocations of (rows, cols) elements of {@code elementBytes} each.
     *
     * @param group what it belongs to: parameters, optimizer, workspace, window, host
     * @param name  what it holds
     * @param place backend tensors, host staging (native or pinned) or the Java heap
     * @param note  for host and heap items: the element type or how it is estimated
     */
    public record Item(String group, String name, Place place, long count, long rows, long cols, long elementBytes,
                       String note) {
        /** count·rows·cols·elementBytes, saturating. */
        public long bytes() { return mul(mul(count, rows), mul(cols, elementBytes)); }

        /** Floats per allocation, for device tensors. */
        public long floatsEach() { return mul(rows, cols); }

        public String shape() { return String.format(Locale.ROOT, "(%,d, %,d)", rows, cols); }
    }

    /** The sizes a user chooses: what "what fits" varies one at a time. */
    public record Sizes(int hidden, int layers, int batch, int seqLen) { }

    /**
     * What a backend's allocations look like: the most floats one tensor holds (full storage is
     * split across tensors beyond it) and where host staging lives.
     */
    public record Target(long maxTensorFloats, StagingBuffer.Layout staging) {
        /** Before a backend is chosen: one tensor may hold 2^31 − 1 floats, staging in Java arrays. */
        public static final Target ANY = new Target(Integer.MAX_VALUE, StagingBuffer.Layout.HEAP);

        public static Target of(Backend backend) {
            return new Target(backend.maxTensorFloats(), backend.stagingLayout());
        }
    }

    /** Java heap per Tensor view and per Cell.Step (12-byte headers, 4-byte references, 8-byte alignment). */
    static final long TENSOR_OBJECT_BYTES = 40;
    static final long STEP_OBJECT_BYTES = 56 + 4;   // the record and its slot in the step array

    /**
     * A training run without checkpoints (bench): parameters, gradients, the optimizer's state
     * (null: none, as for eval) and the workspace of (batch, seqLen) windows on {@code target}.
     */
    public static MemoryEstimate of(RnnConfig config, int batch, int seqLen, Schedule schedule,
                                    Optimizer.Kind optimizer, Target target) {
        long p = ParameterLayout.count(config);
        Schedule.Plan plan = Workspace.plan(config, batch, seqLen, schedule, target.maxTensorFloats());
        List<Item> items = new ArrayList<>();
        items.add(device("parameters", "parameter slab", 1, 1, p));
        items.add(device("parameters", "gradient slab", 1, 1, p));
        if (optimizer != null) {
            for (String slab : switch (optimizer) {
                case SGD -> new String[0];
                case ADAM -> new String[]{"Adam m", "Adam v"};
                case ADAGRAD -> new String[]{"Adagrad cache"};
            }) {
                items.add(device("optimizer", slab, 1, 1, p));
            }
        }
        window(items, config, batch, seqLen, plan, target.staging());
        workspace(items, config, batch, seqLen, plan);
        return new MemoryEstimate(p, plan, List.copyOf(items));
    }

    /** The same with the default plan target {@link Target#ANY} but the given tensor limit (tests, and before a backend opens). */
    public static MemoryEstimate of(RnnConfig config, int batch, int seqLen, Schedule schedule,
                                    Optimizer.Kind optimizer, long maxTensorFloats) {
        return of(config, batch, seqLen, schedule, optimizer, new Target(maxTensorFloats, StagingBuffer.Layout.HEAP));
    }

    /** This plan plus a Java heap item of {@code bytes} (a corpus, a checkpoint's host copies). */
    public MemoryEstimate withHeap(String name, long bytes, String note) {
        List<Item> more = new ArrayList<>(items);
        more.add(new Item("host", name, Place.HEAP, 1, 1, bytes, 1, note));
        return new MemoryEstimate(parameters, plan, List.copyOf(more));
    }

    /** Plus what saving a checkpoint holds while it writes: the parameters twice and the optimizer state. */
    public MemoryEstimate withCheckpoints() {
        return withHeap("checkpoint save: parameters twice and optimizer state",
                add(mul(bytes(parameters), 2), optimizerBytes()), "float[] copies while writing");
    }

    private static void window(List<Item> items, RnnConfig config, int batch, int seqLen, Schedule.Plan plan,
                               StagingBuffer.Layout layout) {
        long rows = (long) batch * seqLen;
        long segmentRows = (long) plan.segmentSteps() * batch;
        Place host = layout.place() == StagingBuffer.Place.JAVA_HEAP ? Place.HEAP : Place.HOST;
        String where = layout.place().description();
        StagingBuffer.Encoding ids = StagingBuffer.Encoding.forIds(config.inputSize());
        StagingBuffer.Encoding classes = StagingBuffer.Encoding.forIds(config.outputSize());
        if (config.tokenInput()) {
            items.add(new Item("window", "token ids of the window", host, 1, rows, 1, ids.bytes, ids + ", " + where));
        } else {
            items.add(new Item("window", "input rows of the window", host, 1, rows, config.inputSize(), 4,
                    "FLOAT32, " + where));
        }
        long targetRows = config.targetRows(batch, seqLen);
        long deviceTargetRows = config.output().perSequence() ? batch : segmentRows;
        boolean values = config.output().regression();
        if (values) {
            items.add(new Item("window", "target values of the window", host, 1, targetRows, config.targetWidth(), 4,
                    "FLOAT32, " + where));
            items.add(new Item("window", "target mask of the window", host, 1, targetRows, 1, 4, "FLOAT32, " + where));
        } else {
            items.add(new Item("window", "targets of the window", host, 1, targetRows, 1, classes.bytes,
                    classes + ", " + where));
        }
        if (layout.deviceScratch()) {
            if (config.tokenInput()) {
                items.add(device("window", "token id upload scratch", 1, 1, (segmentRows * ids.bytes + 3) / 4));
            }
            if (!values) {
                items.add(device("window", "target upload scratch", 1, 1, (deviceTargetRows * classes.bytes + 3) / 4));
            }
        }
        items.add(device("window", "segment inputs", 1, segmentRows, config.tokenInput() ? 1 : config.inputSize()));
        items.add(device("window", "segment targets", 1, deviceTargetRows, config.targetWidth()));
        if (values) {
            items.add(device("window", "segment target mask", 1, deviceTargetRows, 1));
        }
    }

    private static void workspace(List<Item> items, RnnConfig config, int batch, int seqLen, Schedule.Plan plan) {
        Cell cell = config.cell();
        int h = config.hidden();
        long gh = config.gateWidth();
        long layers = config.layers();
        long k = plan.segmentSteps();
        long segments = (seqLen + k - 1) / k;
        long last = seqLen - (segments - 1) * k;                 // steps of the last segment
        boolean lstm = cell.hasCellState();
        boolean gru = cell.keepsRecurrentGate();
        items.add(device("workspace", "h0, hT, dnext per layer", 3 * layers, batch, h));
        if (lstm) {
            items.add(device("workspace", "c0, cT, dc per layer", 3 * layers, batch, h));
        }
        if (!plan.resident() && segments > 1) {
            items.add(device("workspace", "h at segment boundaries", layers, (segments - 1) * batch, h));
            if (lstm) {
                items.add(device("workspace", "c at segment boundaries", layers, (segments - 1) * batch, h));
            }
        }
        if (gru) {
            items.add(device("workspace", "GRU recurrent product hh", layers, batch, gh));
        }
        items.add(device("workspace", "dh of a segment", layers, k * batch, h));
        if (cell.separateRecurrentGradient()) {
            items.add(device("workspace", "GRU recurrent gate gradients", layers, k * batch, gh));
        }
        // Kept steps: every resident segment with full storage (the last one shorter), else one segment of k.
        long full = plan.resident() ? segments - 1 : 1;
        addSegments(items, "states h of a segment", layers * full, (k + 1) * batch, h, plan.resident(), layers, (last + 1) * batch);
        if (lstm) {
            addSegments(items, "states c of a segment", layers * full, (k + 1) * batch, h, plan.resident(), layers,
                    (last + 1) * batch);
        }
        if (cell != Cell.TANH) {
            addSegments(items, "gates of a segment", layers * full, k * batch, gh, plan.resident(), layers, last * batch);
        }
        if (gru) {
            addSegments(items, "GRU hn of a segment", layers * full, k * batch, h, plan.resident(), layers, last * batch);
        }
        long logitRows = config.output().perSequence() ? batch : (long) plan.logitSteps() * batch;
        items.add(device("workspace", "logits, then dL/dlogits", 1, logitRows, config.outputSize()));
        items.add(device("workspace", "losses", 1, logitRows, 1));
        items.add(device("workspace", "loss sum", 1, 1, 1));
        long stepsKept = plan.resident() ? seqLen : k;
        long views = switch (cell) {
            case TANH -> 4;
            case LSTM, GRU -> 6;
        };
        items.add(new Item("workspace", "step views (Cell.Step + tensor views)", Place.HEAP, mul(layers, stepsKept), 1, 1,
                STEP_OBJECT_BYTES + views * TENSOR_OBJECT_BYTES, "estimate, per step kept"));
    }

    /** `count` blocks of (rows, cols); with resident segments, `lastCount` more of the last segment's (lastRows, cols). */
    private static void addSegments(List<Item> items, String name, long count, long rows, long cols, boolean resident,
                                    long lastCount, long lastRows) {
        if (resident) {
            if (count > 0) {
                items.add(device("workspace", name, count, rows, cols));
            }
            items.add(device("workspace", name + (count > 0 ? " (last segment)" : ""), lastCount, lastRows, cols));
        } else {
            items.add(device("workspace", name, count, rows, cols));
        }
    }

    private static Item device(String group, String name, long count, long rows, long cols) {
        return new Item(group, name, Place.DEVICE, count, Math.max(1, rows), Math.max(1, cols), Float.BYTES, "");
    }

    private long sum(java.util.function.Predicate<Item> which) {
        long total = 0;
        for (Item i : items) {
            if (which.test(i)) {
                total = add(total, i.bytes());
            }
        }
        return total;
    }

    /** Parameters and gradients on the backend. */
    public long weightBytes() { return sum(i -> i.group().equals("parameters")); }

    /** The optimizer's state slabs on the backend. */
    public long optimizerBytes() { return sum(i -> i.group().equals("optimizer")); }

    /** The workspace's and the window's tensors on the backend. */
    public long activationBytes() {
        return sum(i -> i.place() == Place.DEVICE && (i.group().equals("workspace") || i.group().equals("window")));
    }

    /** Tensors on the backend, in bytes. */
    public long backendBytes() { return sum(i -> i.place() == Place.DEVICE); }

    /** Host staging outside the Java heap (native or pinned). */
    public long hostBytes() { return sum(i -> i.place() == Place.HOST); }

    /** Java heap this plan needs (staging in Java arrays included). */
    public long heapBytes() { return sum(i -> i.place() == Place.HEAP); }

    /** Everything: backend tensors, host staging and Java heap. */
    public long totalBytes() { return add(backendBytes(), add(hostBytes(), heapBytes())); }

    /** The largest host staging buffer: one may hold at most 2 GiB. */
    public long largestStagingBytes() {
        long max = 0;
        for (Item i : items) {
            if (i.group().equals("window") && i.place() != Place.DEVICE) {
                max = Math.max(max, i.bytes());
            }
        }
        return max;
    }

    /** "1.2 GiB (parameters and gradients 800 MiB, Adam state 400 MiB, activations 12 MiB)". */
    public String describe(Optimizer.Kind optimizer) {
        return size(backendBytes()) + " (parameters and gradients " + size(weightBytes())
                + (optimizerBytes() > 0 ? ", " + optimizer.name().toLowerCase(Locale.ROOT).replace("adam", "Adam")
                .replace("adagrad", "Adagrad") + " state " + size(optimizerBytes()) : "")
                + ", activations " + size(activationBytes()) + ")";
    }

    /**
     * Fails with one message saying what fits unless the run needs at most {@code available}
     * bytes of tensors on {@code backend}, every parameter slab fits one tensor of
     * {@code maxTensorFloats}, each host staging buffer 2 GiB, and the Java heap items fit
     * {@code heapAvailable}. {@code estimate} gives the estimate of other sizes, so the message
     * can name the largest value of each size flag that fits with the others unchanged.
     */
    public static void requireFits(Sizes sizes, Function<Sizes, MemoryEstimate> estimate, Optimizer.Kind optimizer,
                                   String backend, long available, long maxTensorFloats, long heapAvailable) {
        MemoryEstimate e = estimate.apply(sizes);
        Function<MemoryEstimate, Boolean> fits = m -> m.parameters <= maxTensorFloats && m.backendBytes() <= available
                && m.heapBytes() <= heapAvailable && m.largestStagingBytes() <= AbstractBackend.MAX_STAGING_BYTES;
        if (fits.apply(e)) {
            return;
        }
        String problem;
        if (e.parameters > maxTensorFloats) {
            problem = String.format(Locale.ROOT, "the model has %,d parameters, more than the %,d floats one tensor"
                    + " holds on %s", e.parameters, maxTensorFloats, backend);
        } else if (e.backendBytes() > available) {
            problem = "the run needs " + e.describe(optimizer) + " but " + backend + " has " + size(available) + " free";
        } else if (e.largestStagingBytes() > AbstractBackend.MAX_STAGING_BYTES) {
            problem = "the window's inputs on the host take " + size(e.largestStagingBytes())
                    + ", more than the 2 GiB one staging buffer holds";
        } else {
            problem = "the host side of the run needs " + size(e.heapBytes()) + " of Java heap but " + size(heapAvailable)
                    + " is free (raise it with BPTT_JAVA_OPTS=-Xmx…)";
        }
        List<String> options = new ArrayList<>();
        largest(sizes, estimate, fits, "--hidden", (s, v) -> new Sizes(v, s.layers(), s.batch(), s.seqLen()), sizes.hidden(), options);
        largest(sizes, estimate, fits, "--layers", (s, v) -> new Sizes(s.hidden(), v, s.batch(), s.seqLen()), sizes.layers(), options);
        largest(sizes, estimate, fits, "--batch", (s, v) -> new Sizes(s.hidden(), s.layers(), v, s.seqLen()), sizes.batch(), options);
        largest(sizes, estimate, fits, "--seq-len", (s, v) -> new Sizes(s.hidden(), s.layers(), s.batch(), v), sizes.seqLen(), options);
        throw new IllegalArgumentException(problem + "; " + (options.isEmpty()
                ? "no smaller --hidden, --layers, --batch or --seq-len alone fits: make several smaller, or use a backend with more memory"
                : "with the other settings unchanged, " + String.join(", or ", options) + " fits"));
    }

    /**
     * The largest T whose plan totals at most {@code budget} bytes (backend tensors, host staging
     * and Java heap) with the other sizes unchanged, found by bisection: T fits and T + 1 does not
     * (the total is not strictly monotone in T, since k and S are rounded). 0 when not even T = 1 fits.
     */
    public static int largestSeqLen(IntFunction<MemoryEstimate> atSeqLen, long budget, int maxSeqLen) {
        if (atSeqLen.apply(1).totalBytes() > budget) {
            return 0;
        }
        int lo = 1;
        int hi = maxSeqLen;
        if (atSeqLen.apply(hi).totalBytes() <= budget) {
            return hi;
        }
        while (hi - lo > 1) {
            int mid = lo + (hi - lo) / 2;
            if (atSeqLen.apply(mid).totalBytes() <= budget) {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        return lo;
    }

    private interface With {
        Sizes apply(Sizes sizes, int value);
    }

    /** Adds "--flag N or less" for the largest N below the current value that fits, if any. */
    private static void largest(Sizes sizes, Function<Sizes, MemoryEstimate> estimate, Function<MemoryEstimate, Boolean> fits,
                                String flag, With with, int current, List<String> out) {
        if (current <= 1 || !fits.apply(estimate.apply(with.apply(sizes, 1)))) {
            return;
        }
        int lo = 1;           // fits
        int hi = current;     // does not fit
        while (hi - lo > 1) {
            int mid = lo + (hi - lo) / 2;
            if (fits.apply(estimate.apply(with.apply(sizes, mid)))) {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        out.add(flag + " " + lo + " or less");
    }

    /** Java heap not in use now (up to -Xmx): where host copies of the weights live. */
    public static long heapAvailable() {
        Runtime rt = Runtime.getRuntime();
        return rt.maxMemory() - (rt.totalMemory() - rt.freeMemory());
    }

    /** Bytes as B, KiB, MiB, GiB or TiB with one decimal. */
    public static String size(long bytes) {
        if (bytes == Long.MAX_VALUE) {
            return "more than 8 EiB";
        }
        String[] units = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
        double v = bytes;
        int u = 0;
        while (v >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        return u == 0 ? bytes + " bytes" : String.format(Locale.ROOT, "%.1f %s", v, units[u]);
    }

    private static long bytes(long floats) { return mul(floats, Float.BYTES); }

    static long mul(long a, long b) {
        return a == 0 || b == 0 ? 0 : Math.multiplyHigh(a, b) != 0 || a * b < 0 ? Long.MAX_VALUE : a * b;
    }

    static long add(long a, long b) { return a > Long.MAX_VALUE - b ? Long.MAX_VALUE : a + b; }
}
