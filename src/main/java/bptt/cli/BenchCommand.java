// BenchCommand: `bptt bench` times full training steps (or one sgemm size) on a backend.
package bptt.cli;

import bptt.api.MemoryPlan;
import bptt.api.Training;
import bptt.backend.Backend;
import bptt.backend.Backends;
import bptt.backend.DeviceSteps;
import bptt.backend.LaunchCounters;
import bptt.backend.ProfilingBackend;
import bptt.rnn.Cell;
import bptt.rnn.Rnn;
import bptt.rnn.RnnConfig;
import bptt.rnn.Schedule;
import bptt.rnn.Window;
import bptt.rnn.Workspace;
import bptt.tensor.Tensor;
import bptt.train.MemoryEstimate;
import bptt.train.Optimizer;
import bptt.train.SyntheticTask;
import bptt.train.TrainingStep;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.function.IntFunction;

/**
 * A training step is what `train` repeats ({@link TrainingStep}): Workspace forward (recurrence,
 * output layer, softmax cross-entropy) + backward (BPTT, weight gradients) + the gradient norm +
 * SGD on the whole parameter slab, on a character model with random tokens; on cuda the whole
 * step is queued on the device and, with --cuda-graph on, replayed as one CUDA graph. After
 * --warmup steps, --repeats steps are timed one by one (the backend synchronized after each) and
 * the median is reported. On a backend that counts its launches ({@link LaunchCounters}: cuda,
 * opencl) it also reports the kernels and GEMMs per step and the host's own time per step: the
 * wall time less the time the host waited for the device.
 *
 * <p>With --sgemm N it instead times C(N,N) = A(N,N)·B(N,N) through the backend's gemm: the
 * GFLOP/s ceiling that a training step is measured against.
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Times training steps (forward + backward + SGD update) and reports tokens/s, ms/step, "
                + "GFLOP/s and peak memory; or, with --sgemm N, the backend's N×N×N sgemm GFLOP/s.")
public final class BenchCommand implements Runnable {

    @Mixin
    BackendOption backendOption;

    @Option(names = "--batch", defaultValue = "32", description = "B, sequences per step (default: ${DEFAULT-VALUE})")
    int batch;

    @Option(names = "--seq-len", defaultValue = "256", description = "T, steps per sequence (default: ${DEFAULT-VALUE})")
    int seqLen;

    @Option(names = "--hidden", defaultValue = "512", description = "H, hidden size (default: ${DEFAULT-VALUE})")
    int hidden;

    @Option(names = "--vocab", defaultValue = "65", description = "V, vocabulary size (default: ${DEFAULT-VALUE})")
    int vocab;

    @Option(names = "--layers", defaultValue = "1", description = "L, stacked layers (default: ${DEFAULT-VALUE})")
    int layers;

    @Option(names = "--cell", defaultValue = "tanh", description = "tanh, lstm or gru (default: ${DEFAULT-VALUE})")
    String cell;

    @Option(names = "--warmup", defaultValue = "3", description = "untimed steps first (default: ${DEFAULT-VALUE})")
    int warmup;

    @Option(names = "--warmup-seconds", defaultValue = "0", paramLabel = "S",
            description = "keep warming up until at least S seconds have passed, however many steps that takes: the JIT"
                    + " compiles the cpu backend's kernels for a new shape over seconds, not a fixed number of steps"
                    + " (default: ${DEFAULT-VALUE})")
    double warmupSeconds;

    /** The warm-up steps the last timing really ran (at least --warmup; more under --warmup-seconds). */
    private int warmupSteps;

    @Option(names = "--repeats", defaultValue = "5", description = "timed steps; the median is reported (default: ${DEFAULT-VALUE})")
    int repeats;

    @Option(names = "--json", description = "print one JSON object instead of text")
    boolean json;

    @Option(names = "--profile", description = "also time every op (synchronizing after each) and print where time goes")
    boolean profile;

    @Option(names = "--checkpoint-every", defaultValue = "0", paramLabel = "auto|K|0",
            description = "keep hidden states every K steps and recompute in the backward pass (auto ≈ √T); 0 keeps all (default: ${DEFAULT-VALUE})")
    String checkpointEvery;

    @Option(names = "--task", defaultValue = "text",
            description = "text (random tokens of --vocab), copy or adding (the long-range tasks; --vocab is then theirs) (default: ${DEFAULT-VALUE})")
    String task;

    @Option(names = "--plan", description = "print the memory the run would allocate, tensor by tensor (backend,"
            + " host staging, Java heap), and exit without running it")
    boolean plan;

    @Option(names = "--memory", paramLabel = "SIZE", description = "with --plan: a budget (e.g. 1GiB); prints whether"
            + " the run fits and the largest --seq-len that does")
    String memory;

    @Option(names = "--sgemm", paramLabel = "N", defaultValue = "0",
            description = "time an N×N×N sgemm instead of training steps (the GFLOP/s ceiling)")
    int sgemm;

    @Mixin
    CudaGraphOption cudaGraph;

    @Override
    public void run() { EngineErrors.run(this::measure); }

    private void measure() {
        if (warmup < 0 || repeats < 1 || !(warmupSeconds >= 0)) {
            throw new UserError("--warmup and --warmup-seconds must be >= 0 and --repeats >= 1;"
                    + " try --warmup 3 --repeats 5");
        }
        if (memory != null && !plan) {
            throw new UserError("--memory is a budget for --plan; add --plan");
        }
        Long budget = memory == null ? null : PlanReport.parseSize(memory);
        try (Backend be = Backends.open(backendOption.backend, backendOption.device)) {
            if (be instanceof DeviceSteps steps) {
                steps.useGraphs(cudaGraph.on());
            }
            if (plan) {
                printPlan(be, budget);
            } else if (sgemm > 0) {
                benchSgemm(be);
            } else {
                benchTraining(be);
            }
        }
    }

    /**
     * GEMM FLOPs of one training step, 2·m·n·k per GEMM that {@link Workspace} runs, with
     * N = T·B rows, G·H the gate width (G = 1 tanh, 4 LSTM, 3 GRU) and D_l the input width of
     * layer l (D_0 = V for tokens, H above):
     * <pre>
     *   output layer:  forward logits, backward dWya and dh_top      3 · 2·N·H·V
     *   per layer l:   forward recurrence, backward dnext, dW_hh     3 · 2·N·G·H·H
     *                  input projection and dW_ih (skipped for tokens
     *                  at l = 0: a gather and a scatter-add instead) 2 · 2·N·D_l·G·H
     *                  dx into layer l-1 (l > 0)                     1 · 2·N·G·H·H
     * </pre>
     * Elementwise work (the cells' pointwise kernels, softmax, row sums, SGD) is not counted.
     */
    static double flopsPerStep(Cell cell, int batch, int seqLen, int hidden, int vocab, int layers) {
        return flopsPerStep(RnnConfig.charModel(cell, vocab, hidden, layers), batch, seqLen);
    }

    /**
     * The same count for any model; dense input at l = 0 adds its projection and dW_ih,
     * 2 · 2·N·D·G·H. Checkpointed BPTT's recomputed forward is not counted: GFLOP/s stay the
     * useful work, so the cost of recomputation shows as lower GFLOP/s.
     */
    static double flopsPerStep(RnnConfig config, int batch, int seqLen) {
        double n = (double) batch * seqLen;
        double h = config.hidden();
        double gh = config.gateWidth();
        double flops = 3 * 2 * n * h * config.outputSize();
        for (int l = 0; l < config.layers(); l++) {
            flops += 3 * 2 * n * gh * h;
            if (l > 0) {
                flops += 2 * 2 * n * h * gh + 2 * n * gh * h;
            } else if (!config.tokenInput()) {
                flops += 2 * 2 * n * config.inputSize() * gh;
            }
        }
        return flops;
    }

    /** The model a bench run trains at hidden size h and l layers: a character model of --vocab, or the task's. */
    private RnnConfig model(SyntheticTask generator, int h, int l) {
        return (generator == null ? RnnConfig.charModel(vocab, h, l) : generator.model(h, l)).withCell(Cell.parse(cell));
    }

    /** The memory plan of one bench run (SGD, no checkpoints saved) of the given sizes on {@code be}. */
    private MemoryEstimate estimate(Backend be, SyntheticTask generator, MemoryEstimate.Sizes z) {
        return MemoryEstimate.of(model(generator, z.hidden(), z.layers()), z.batch(), z.seqLen(),
                Schedule.parse(checkpointEvery), Optimizer.Kind.SGD, MemoryEstimate.Target.of(be));
    }

    private SyntheticTask generator() {
        return "text".equalsIgnoreCase(task) ? null : SyntheticTask.create(task, batch, seqLen, 1);
    }

    private void printPlan(Backend be, Long budget) {
        SyntheticTask generator = generator();
        RnnConfig config = model(generator, hidden, layers);
        MemoryEstimate e = estimate(be, generator, new MemoryEstimate.Sizes(hidden, layers, batch, seqLen));
        String what = String.format(Locale.ROOT, "bench %s %s B=%d T=%,d H=%d V=%d layers=%d (%,d parameters, SGD)", task,
                config.cell().option(), batch, seqLen, hidden, config.outputSize(), layers, e.parameters());
        IntFunction<MemoryEstimate> atSeqLen = t -> estimate(be, generator, new MemoryEstimate.Sizes(hidden, layers, batch, t));
        int largest = budget == null ? -1 : MemoryEstimate.largestSeqLen(atSeqLen, budget, Training.longestWindow(batch));
        PlanReport.print(System.out, json, be.name(), what, plan(e), budget, largest,
                largest > 0 ? plan(atSeqLen.apply(largest)) : null);
    }

    /** The engine's estimate as the API's plan, which the --plan table prints. */
    private static MemoryPlan plan(MemoryEstimate e) {
        List<MemoryPlan.Item> items = e.items().stream().map(i -> new MemoryPlan.Item(MemoryPlan.Place.valueOf(
                i.place().name()), i.group(), i.name(), i.note(), i.count(), i.rows(), i.cols(), i.elementBytes(),
                i.bytes())).toList();
        return new MemoryPlan(e.parameters(), e.plan().resident() ? 0 : e.plan().segmentSteps(), e.plan().chunkSteps(),
                items, e.backendBytes(), e.hostBytes(), e.heapBytes());
    }

    private void benchTraining(Backend raw) {
        ProfilingBackend profiler = profile ? new ProfilingBackend(raw) : null;
        Backend be = profile ? profiler : raw;
        SyntheticTask generator = generator();
        Cell recurrentCell = Cell.parse(cell);
        RnnConfig config = model(generator, hidden, layers);
        Schedule schedule = Schedule.parse(checkpointEvery);
        long maxTensor = raw.maxTensorFloats();
        MemoryEstimate.requireFits(new MemoryEstimate.Sizes(hidden, layers, batch, seqLen), z -> estimate(raw, generator, z),
                Optimizer.Kind.SGD, raw.name(), raw.availableBytes(), maxTensor, MemoryEstimate.heapAvailable());
        int rows = batch * seqLen;
        double[] ms = new double[repeats];
        double[] hostUs = new double[repeats];
        LaunchCounters counters = raw instanceof LaunchCounters c && profiler == null ? c : null;
        long deviceLaunches = 0;
        long hostLaunches = 0;
        double loss;
        int checkpointK;
        try (Rnn rnn = new Rnn(be, config); Workspace ws = rnn.workspace(batch, seqLen, schedule);
             Optimizer sgd = new Optimizer(be, Optimizer.Kind.SGD, 0.01f, (int) rnn.layout().total());
             TrainingStep step = new TrainingStep(be, rnn, ws, sgd, 0)) {
            checkpointK = ws.checkpointEvery();
            rnn.initialize(1);
            fillWindow(ws.window(), generator, rows);
            ws.resetState();
            long warmupEnd = System.nanoTime() + (long) (warmupSeconds * 1e9);
            int warmedUp = 0;
            while (warmedUp < warmup || System.nanoTime() < warmupEnd) {
                step.run();
                warmedUp++;
            }
            warmupSteps = warmedUp;
            if (profiler != null) {
                profiler.reset();
            }
            loss = 0;
            for (int i = 0; i < repeats; i++) {
                long device0 = counters != null ? counters.deviceLaunches() : 0;
                long host0 = counters != null ? counters.hostLaunches() : 0;
                long wait0 = counters != null ? counters.waitNanos() : 0;
                long t0 = System.nanoTime();
                loss = step.run().loss();
                be.synchronize();
                long wall = System.nanoTime() - t0;
                ms[i] = wall / 1e6;
                if (counters != null) {
                    hostUs[i] = (wall - (counters.waitNanos() - wait0)) / 1e3;
                    deviceLaunches += counters.deviceLaunches() - device0;
                    hostLaunches += counters.hostLaunches() - host0;
                }
            }
        }
        double median = median(ms);
        double hostUsMedian = median(hostUs);
        String graphs = raw instanceof DeviceSteps d && profiler == null ? (d.graphs() ? "on" : "off") : "n/a";
        String launchesJson = counters == null ? "null" : String.valueOf(deviceLaunches / repeats);
        String hostLaunchesJson = counters == null ? "null" : String.valueOf(hostLaunches / repeats);
        String hostUsJson = counters == null ? "null" : String.format(Locale.ROOT, "%.1f", hostUsMedian);
        double[] sorted = ms.clone();
        Arrays.sort(sorted);
        double flops = flopsPerStep(config, batch, seqLen);
        double tokensPerS = rows / (median / 1e3);
        double gflops = flops / (median / 1e3) / 1e9;
        long peak = raw.peakAllocatedBytes();
        long heap = heapPeakBytes();
        long rss = peakResidentBytes();
        if (json) {
            System.out.println(String.format(Locale.ROOT,
                    "{\"backend\":\"%s\",\"device\":\"%s\",\"task\":\"%s\",\"cell\":\"%s\",\"batch\":%d,\"seq_len\":%d,\"hidden\":%d,"
                            + "\"vocab\":%d,\"layers\":%d,\"checkpoint_every\":%d,\"warmup\":%d,\"repeats\":%d,"
                            + "\"ms_per_step\":%.3f,\"ms_min\":%.3f,\"ms_max\":%.3f,\"tokens_per_s\":%.1f,"
                            + "\"gflop_per_step\":%.4f,\"gflops\":%.2f,\"peak_bytes\":%d,\"jvm_heap_peak_bytes\":%d,"
                            + "\"peak_rss_bytes\":%d,\"loss\":%.5f,\"cuda_graph\":\"%s\",\"launches_per_step\":%s,"
                            + "\"host_launches_per_step\":%s,\"host_us_per_step\":%s,\"emulated\":%s}",
                    raw.name(), escape(raw.deviceDescription()), task, recurrentCell.option(), batch, seqLen, hidden,
                    config.outputSize(), layers,
                    checkpointK, warmupSteps, repeats, median, sorted[0], sorted[repeats - 1], tokensPerS, flops / 1e9, gflops,
                    peak, heap, rss, loss, graphs, launchesJson, hostLaunchesJson, hostUsJson,
                    raw.deviceDescription().contains("EMULATED")));
        } else {
            System.out.printf(Locale.ROOT, "backend %s: %s%n", raw.name(), raw.deviceDescription());
            System.out.printf(Locale.ROOT, "%s %s B=%d T=%d H=%d V=%d layers=%d, %s: %d warm-up + %d timed training steps"
                    + " (forward + backward + SGD)%n", task, recurrentCell.option(), batch, seqLen, hidden,
                    config.outputSize(), layers,
                    checkpointK == 0 ? "full storage" : "checkpoint every " + checkpointK, warmupSteps, repeats);
            System.out.printf(Locale.ROOT, "  ms/step      %10.2f median (min %.2f, max %.2f)%n", median, sorted[0],
                    sorted[repeats - 1]);
            System.out.printf(Locale.ROOT, "  tokens/s     %10.0f%n", tokensPerS);
            System.out.printf(Locale.ROOT, "  GFLOP/s      %10.2f (%.3f GFLOP of GEMMs per step)%n", gflops, flops / 1e9);
            System.out.printf(Locale.ROOT, "  peak memory  %10.1f MiB of tensors on the backend, %.1f MiB JVM heap,"
                    + " %.1f MiB process resident (host)%n", peak / 1048576.0, heap / 1048576.0, rss / 1048576.0);
            if (counters != null) {
                System.out.printf(Locale.ROOT, "  launches     %10d kernels and GEMMs per step, %d launch calls by the host"
                        + " (CUDA graphs %s)%n", deviceLaunches / repeats, hostLaunches / repeats, graphs);
                System.out.printf(Locale.ROOT, "  host time    %10.1f µs per step median: wall time less the waits for the"
                        + " device%s%n", hostUsMedian, raw.deviceDescription().contains("EMULATED")
                        ? " (emulated: the host's own cost, not a GPU's)" : "");
            }
        }
        if (profiler != null) {
            printProfile(profiler, median);
        }
    }

    private static double median(double[] values) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        int n = sorted.length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }

    /** Random tokens of --vocab as inputs and targets, or the task's first window. */
    private void fillWindow(Window window, SyntheticTask generator, int rows) {
        if (generator != null) {
            generator.fill(0, 0, window);
            return;
        }
        SplittableRandom random = new SplittableRandom(1);
        for (int i = 0; i < rows; i++) {
            window.setToken(i, random.nextInt(vocab));
            window.setTarget(i, random.nextInt(vocab));
        }
    }

    private void printProfile(ProfilingBackend profiler, double medianMs) {
        double total = 0;
        for (ProfilingBackend.Entry e : profiler.entries()) {
            total += e.millis();
        }
        System.out.printf(Locale.ROOT, "profile per step (ops synchronized; %.2f ms in ops of %.2f ms median step):%n",
                total / repeats, medianMs);
        System.out.printf(Locale.ROOT, "  %-34s %8s %11s %7s %9s%n", "op", "calls", "ms/step", "share", "GFLOP/s");
        for (ProfilingBackend.Entry e : profiler.entries()) {
            String gf = "";
            if (e.op().startsWith("gemm")) {
                String[] f = e.op().split("[ =]");
                double mnk = 2.0 * Long.parseLong(f[3]) * Long.parseLong(f[5]) * Long.parseLong(f[7]) * e.calls();
                gf = String.format(Locale.ROOT, "%9.1f", mnk / (e.millis() / 1e3) / 1e9);
            }
            System.out.printf(Locale.ROOT, "  %-34s %8d %11.3f %6.1f%% %s%n", e.op(), e.calls() / repeats,
                    e.millis() / repeats, 100 * e.millis() / total, gf);
        }
    }

    private void benchSgemm(Backend be) {
        int n = sgemm;
        float[] values = new float[n * n];
        SplittableRandom random = new SplittableRandom(2);
        for (int i = 0; i < values.length; i++) {
            values[i] = (float) (random.nextDouble() - 0.5);
        }
        Tensor a = be.alloc(n, n);
        Tensor b = be.alloc(n, n);
        Tensor c = be.alloc(n, n);
        be.upload(values, a);
        be.upload(values, b);
        double[] ms = new double[repeats];
        for (int i = 0; i < warmup + repeats; i++) {
            long t0 = System.nanoTime();
            be.gemm(false, a, false, b, 1f, 0f, c);
            be.synchronize();
            if (i >= warmup) {
                ms[i - warmup] = (System.nanoTime() - t0) / 1e6;
            }
        }
        be.free(a);
        be.free(b);
        be.free(c);
        Arrays.sort(ms);
        double median = ms[repeats / 2];
        double gflops = 2.0 * n * n * n / (median / 1e3) / 1e9;
        double best = 2.0 * n * n * n / (ms[0] / 1e3) / 1e9;
        if (json) {
            System.out.println(String.format(Locale.ROOT,
                    "{\"backend\":\"%s\",\"device\":\"%s\",\"sgemm_n\":%d,\"repeats\":%d,\"ms\":%.3f,"
                            + "\"ms_min\":%.3f,\"gflops\":%.2f,\"gflops_best\":%.2f}",
                    be.name(), escape(be.deviceDescription()), n, repeats, median, ms[0], gflops, best));
        } else {
            System.out.printf(Locale.ROOT, "backend %s: %s%n  sgemm %d×%d×%d: %.3f ms median of %d, %.1f GFLOP/s"
                    + " (best %.1f)%n", be.name(), be.deviceDescription(), n, n, n, median, repeats, gflops, best);
        }
    }

    /** Highest heap use the JVM has seen: the sum of the heap pools' peaks. */
    private static long heapPeakBytes() {
        long sum = 0;
        for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
            if (pool.getType() == MemoryType.HEAP && pool.getPeakUsage() != null) {
                sum += pool.getPeakUsage().getUsed();
            }
        }
        return sum;
    }

    /** The process's peak resident set (VmHWM of /proc/self/status), or -1 where there is none. */
    private static long peakResidentBytes() {
        try {
            for (String line : java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/self/status"))) {
                if (line.startsWith("VmHWM:")) {
                    return Long.parseLong(line.replaceAll("\\D", "")) * 1024;
                }
            }
        } catch (java.io.IOException | NumberFormatException e) {
            return -1;
        }
        return -1;
    }

    private static String escape(String s) { return s.replace("\\", "\\\\").replace("\"", "\\\""); }
}
