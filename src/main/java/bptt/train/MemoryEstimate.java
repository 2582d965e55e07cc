// MemoryEstimate: the memory a run will allocate, computed from its sizes alone, and whether it fits before anything is allocated.
package bptt.train;

import bptt.rnn.Cell;
import bptt.rnn.ParameterLayout;
import bptt.rnn.RnnConfig;
import bptt.rnn.Schedule;
import bptt.rnn.Workspace;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Function;

/**
 * Bytes of float32 tensors a run allocates on its backend, by what they hold, and the Java heap
 * its host copies need. Everything is computed in closed form with saturating long arithmetic,
 * so any flag value (--layers 2000000000) answers at once.
 *
 * <ul>
 *   <li>parameters P = {@link ParameterLayout#count}; the Rnn holds parameters and gradients, 2·P floats;</li>
 *   <li>optimizer state: Adam 2·P (m, v), Adagrad P (cache), SGD none;</li>
 *   <li>activations: what {@code Workspace} allocates for (B, T) windows under the plan
 *       {@link Workspace#plan} makes: inputs (T·B, 1 or D) and targets (R, 1), or (R, D_out)
 *       and a (R, 1) mask for a regression output, with R = T·B target rows (B per sequence); per layer h0,
 *       hT and dnext (B, H) each, the kept states — (T + segments)·B·H with full storage (one
 *       extra block per segment), or (k + 1)·B·H plus (segments − 1)·B·H boundaries when
 *       checkpointed — and dh (k·B, H); LSTM the same again for c; LSTM and GRU their gates,
 *       (T or k)·B·G·H; GRU hn (T or k)·B·H, its (B, 3H) recurrent product and (k·B, 3H)
 *       recurrent gate gradients; logits (L·B, V), losses (L·B, 1) and the loss sum (1, 1), with
 *       L = T when full storage keeps every step's logits, else the output chunk S (L = 1 for a
 *       per-sequence output);</li>
 *   <li>host heap: a checkpoint holds the parameters twice (the slab and PyTorch-named copies)
 *       and the optimizer state once while it is written, plus the window's inputs and targets
 *       (a regression output's target values twice, as the window has them and as uploaded, and its mask).</li>
 * </ul>
 *
 * @param parameters     P, floats in the parameter slab
 * @param weightBytes    parameters and gradients
 * @param optimizerBytes the optimizer's state slabs
 * @param activationBytes the workspace's buffers
 * @param hostBytes      Java heap for host copies
 */
public record MemoryEstimate(long parameters, long weightBytes, long optimizerBytes, long activationBytes, long hostBytes) {

    /** The sizes a user chooses: what "what fits" varies one at a time. */
    public record Sizes(int hidden, int layers, int batch, int seqLen) { }

    /** Tensors on the backend, in bytes. */
    public long backendBytes() { return add(add(weightBytes, optimizerBytes), activationBytes); }

    /**
     * A training run: parameters, gradients, the optimizer's state (null: none, as for eval) and
     * the workspace of (batch, seqLen) windows, whose full storage is split into segments of
     * at most {@code maxTensorFloats} as the workspace does.
     */
    public static MemoryEstimate of(RnnConfig config, int batch, int seqLen, Schedule schedule,
                                    Optimizer.Kind optimizer, long maxTensorFloats) {
        long p = ParameterLayout.count(config);
        int slabs = optimizer == null ? 0 : switch (optimizer) {
            case SGD -> 0;
            case ADAM -> 2;
            case ADAGRAD -> 1;
        };
        long activations = activationFloats(config, batch, seqLen, schedule, maxTensorFloats);
        long window = add(mul((long) batch * seqLen, config.tokenInput() ? 1 : config.inputSize()),
                mul(config.targetRows(batch, seqLen), config.output().regression() ? 2L * config.targetWidth() + 1 : 1));
        long host = add(mul(p, 2 + slabs), window);
        return new MemoryEstimate(p, bytes(mul(p, 2)), bytes(mul(p, slabs)), bytes(activations), bytes(host));
    }

    private static long activationFloats(RnnConfig config, int batch, int seqLen, Schedule schedule, long maxTensorFloats) {
        Schedule.Plan plan = Workspace.plan(config, batch, seqLen, schedule, maxTensorFloats);
        Cell cell = config.cell();
        long bh = (long) batch * config.hidden();
        long bgh = mul(bh, cell.gates());
        long k = plan.segmentSteps();
        long segments = (seqLen + k - 1) / k;
        int hc = cell.hasCellState() ? 2 : 1;                 // h, and c for LSTM
        long rows = (long) seqLen * batch;
        long targetRows = config.targetRows(batch, seqLen);
        long window = add(mul(rows, config.tokenInput() ? 1 : config.inputSize()),
                mul(targetRows, config.targetWidth() + (config.output().regression() ? 1 : 0)));
        long stepsKept = plan.resident() ? seqLen : k;          // per-step gates (and hn) kept
        long states = plan.resident() ? mul(seqLen + segments, bh) : add(mul(k + 1, bh),
                segments > 1 ? mul(segments - 1, bh) : 0);      // blocks of h (with entering blocks), boundaries
        long perLayer = add(mul(3L * hc, bh), mul(hc, states));  // h0, hT, dnext (c0, cT, dc) and the kept states
        perLayer = add(perLayer, mul(k, bh));                   // dh
        if (cell != Cell.TANH) {
            perLayer = add(perLayer, mul(stepsKept, bgh));      // gates (tanh's are its states)
        }
        if (cell.keepsRecurrentGate()) {
            perLayer = add(add(perLayer, mul(stepsKept, bh)), add(bgh, mul(k, bgh)));  // hn, hh scratch, dgatesHh
        }
        long logitRows = config.output().perSequence() ? batch : (long) plan.logitSteps() * batch;
        long output = add(mul(logitRows, config.outputSize()), logitRows + 1);
        return add(add(window, mul(config.layers(), perLayer)), output);
    }

    /** "1.2 GiB (parameters and gradients 800 MiB, Adam state 400 MiB, activations 12 MiB)". */
    public String describe(Optimizer.Kind optimizer) {
        return size(backendBytes()) + " (parameters and gradients " + size(weightBytes)
                + (optimizerBytes > 0 ? ", " + optimizer.name().toLowerCase(Locale.ROOT).replace("adam", "Adam")
                .replace("adagrad", "Adagrad") + " state " + size(optimizerBytes) : "")
                + ", activations " + size(activationBytes) + ")";
    }

    /**
     * Fails with one message saying what fits unless the run needs at most {@code available}
     * bytes of tensors on {@code backend}, every parameter slab fits one tensor of
     * {@code maxTensorFloats}, and the host copies fit {@code heapAvailable}. {@code estimate}
     * gives the estimate of other sizes, so the message can name the largest value of each size
     * flag that fits with the others unchanged.
     */
    public static void requireFits(Sizes sizes, Function<Sizes, MemoryEstimate> estimate, Optimizer.Kind optimizer,
                                   String backend, long available, long maxTensorFloats, long heapAvailable) {
        MemoryEstimate e = estimate.apply(sizes);
        Function<MemoryEstimate, Boolean> fits = m -> m.parameters <= maxTensorFloats && m.backendBytes() <= available
                && m.hostBytes <= heapAvailable;
        if (fits.apply(e)) {
            return;
        }
        String problem;
        if (e.parameters > maxTensorFloats) {
            problem = String.format(Locale.ROOT, "the model has %,d parameters, more than the %,d floats one tensor"
                    + " holds on %s", e.parameters, maxTensorFloats, backend);
        } else if (e.backendBytes() > available) {
            problem = "the run needs " + e.describe(optimizer) + " but " + backend + " has " + size(available) + " free";
        } else {
            problem = "the host copies of the model need " + size(e.hostBytes) + " of Java heap but " + size(heapAvailable)
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

    private static long mul(long a, long b) {
        return a == 0 || b == 0 ? 0 : Math.multiplyHigh(a, b) != 0 || a * b < 0 ? Long.MAX_VALUE : a * b;
    }

    private static long add(long a, long b) { return a > Long.MAX_VALUE - b ? Long.MAX_VALUE : a + b; }
}
