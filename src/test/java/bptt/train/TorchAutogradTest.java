// TorchAutogradTest: one step's gradients and one SGD/Adam update of every cell against PyTorch on the same weights.
package bptt.train;

import bptt.backend.Backend;
import bptt.backend.ref.CpuRefBackend;
import bptt.conformance.TestBackends;
import bptt.rnn.Cell;
import bptt.rnn.ParameterLayout;
import bptt.rnn.Rnn;
import bptt.rnn.RnnConfig;
import bptt.rnn.WindowFill;
import bptt.rnn.Workspace;
import com.google.gson.Gson;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Saves a freshly initialised model as a bptt checkpoint, has PyTorch (Debian's python3-torch,
 * {@code src/test/resources/torch_step.py}) load it into nn.RNN / nn.LSTM / nn.GRU + nn.Linear in
 * float64, and compares, on the same window and initial state: the loss, every parameter's
 * gradient by its state_dict name, dL/dh0 (and dL/dc0), and the weights after one step of
 * torch.optim.SGD and torch.optim.Adam against the engine's {@link Optimizer}. On the float64
 * cpu-ref everything agrees to 2e-7 of each tensor's largest value (the mean's factor 1/N is a
 * float32 there too); the float32 cpu backend's loss and gradients to 1e-4. Skipped, with the reason, when PyTorch is not installed, unless
 * BPTT_REQUIRE_TORCH=1 (CI installs it), which makes that a failure.
 */
class TorchAutogradTest {
    private static final String PYTHON = "/usr/bin/python3";
    private static final Gson GSON = new Gson();
    private static final int B = 3;
    private static final int T = 6;
    private static final int H = 5;
    private static final float LR = 0.01f;

    @TempDir
    Path dir;

    @BeforeAll
    static void requireTorch() throws Exception {
        String why = null;
        if (!Files.isExecutable(Path.of(PYTHON))) {
            why = PYTHON + " not found";
        } else {
            Process p = new ProcessBuilder(PYTHON, "-c", "import torch").redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
            if (!p.waitFor(120, TimeUnit.SECONDS) || p.exitValue() != 0) {
                why = "PyTorch does not import (" + out.lines().reduce((a, b) -> b).orElse("") + ")";
            }
        }
        if (why != null) {
            why += "; install Debian's python3-torch to compare with PyTorch";
            if ("1".equals(System.getenv("BPTT_REQUIRE_TORCH"))) {
                Assertions.fail(why + " (required by BPTT_REQUIRE_TORCH=1)");
            }
            Assumptions.abort(why);
        }
    }

    /** PyTorch's state_dict name of each engine parameter (the tanh cell's single bias is bias_ih). */
    private static Map<String, String> torchNames(RnnConfig cfg) {
        Map<String, String> names = new LinkedHashMap<>();
        for (int l = 0; l < cfg.layers(); l++) {
            names.put(ParameterLayout.wax(l), "rnn.weight_ih_l" + l);
            names.put(ParameterLayout.waa(l), "rnn.weight_hh_l" + l);
            names.put(ParameterLayout.ba(l), "rnn.bias_ih_l" + l);
            if (cfg.cell().twoBiases()) {
                names.put(ParameterLayout.bh(l), "rnn.bias_hh_l" + l);
            }
        }
        names.put("Wya", "decoder.weight");
        names.put("by", "decoder.bias");
        return names;
    }

    @ParameterizedTest(name = "{0} {1} input, {2} layer(s) on {3}")
    @CsvSource({
            "tanh, token, 2, cpu-ref", "lstm, token, 2, cpu-ref", "gru, token, 2, cpu-ref",
            "lstm, dense, 1, cpu-ref", "gru, dense, 1, cpu-ref",
            "tanh, token, 2, cpu", "lstm, token, 2, cpu", "gru, dense, 2, cpu",
    })
    void oneStepMatchesPytorchAutogradAndTorchOptim(String cellName, String input, int layers, String backend)
            throws Exception {
        Cell cell = Cell.parse(cellName);
        boolean tokens = input.equals("token");
        RnnConfig cfg = new RnnConfig(tokens ? 7 : 4, tokens, H, layers, tokens ? 7 : 6, cell);
        boolean exact = backend.equals("cpu-ref");
        SplittableRandom random = new SplittableRandom(cellName.hashCode() * 31L + layers);
        float[] params;
        try (CpuRefBackend init = CpuRefBackend.float32(); Rnn rnn = new Rnn(init, cfg)) {
            rnn.initialize(random.nextLong());
            params = init.download(rnn.params());
        }
        Path ckpt = dir.resolve("model.safetensors");
        CheckpointIo.save(ckpt, new Checkpoint(cfg, null, params, Map.of(), Map.of()));
        JsonObject problem = problem(cfg, random);
        Path problemFile = dir.resolve("problem.json");
        Files.writeString(problemFile, GSON.toJson(problem));
        JsonObject torch = runTorch(problemFile, ckpt);

        try (Backend be = exact ? CpuRefBackend.float64() : TestBackends.openFresh(backend);
             Rnn rnn = new Rnn(be, cfg); Workspace ws = rnn.workspace(B, T)) {
            double tol = exact ? 2e-7 : 1e-4;   // float64 math, but the mean's factor 1/N is a float32 (6e-8)
            double loss = forwardBackward(be, rnn, ws, params, problem);
            assertEquals(torch.get("loss").getAsDouble(), loss, tol * Math.abs(loss), "loss");
            double[] grads = be.downloadDoubles(rnn.grads());
            compareSlab("gradient", rnn, grads, torch.getAsJsonObject("grads"), tol, false);
            compare("dh0", stateGrads(be, ws, cfg, false), torch.getAsJsonArray("dh0"), tol);
            if (cell.hasCellState()) {
                compare("dc0", stateGrads(be, ws, cfg, true), torch.getAsJsonArray("dc0"), tol);
            }
            if (exact) {
                for (Optimizer.Kind kind : new Optimizer.Kind[]{Optimizer.Kind.SGD, Optimizer.Kind.ADAM}) {
                    try (Optimizer opt = new Optimizer(be, kind, LR, (int) rnn.layout().total())) {
                        forwardBackward(be, rnn, ws, params, problem);
                        opt.step(rnn.params(), rnn.grads(), 1f);
                        compareSlab(kind + " step", rnn, be.downloadDoubles(rnn.params()),
                                torch.getAsJsonObject(kind.name().toLowerCase()), tol, cell == Cell.TANH);
                    }
                }
            }
        }
    }

    /** The README's claim: scripts/torch_check.py scores a checkpoint of every cell as `bptt eval` does. */
    @ParameterizedTest(name = "{0}")
    @CsvSource({"tanh", "lstm", "gru"})
    void torchCheckScriptScoresEveryCellAsEvalDoes(String cellName) throws Exception {
        Path text = dir.resolve("text.txt");
        Files.writeString(text, "the quick brown fox jumps over the lazy dog; ".repeat(12));
        Path ckpt = dir.resolve(cellName + ".safetensors");
        assertEquals(0, cli("train", "--cell", cellName, "--data", text.toString(), "--steps", "4", "--hidden", "8",
                "--batch", "4", "--seq-len", "16", "--eval-every", "0", "--backend", "cpu-ref", "--save",
                ckpt.toString()).exit);
        Cli eval = cli("eval", "--checkpoint", ckpt.toString(), "--data", text.toString(), "--batch", "4", "--seq-len",
                "16", "--backend", "cpu-ref", "--json");
        assertEquals(0, eval.exit, eval.out);
        double engine = GSON.fromJson(eval.out, JsonObject.class).get("loss").getAsDouble();
        Process p = new ProcessBuilder(PYTHON, Path.of("scripts/torch_check.py").toAbsolutePath().toString(),
                ckpt.toString(), text.toString(), "4", "16").redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(300, TimeUnit.SECONDS), "torch_check.py did not finish");
        assertEquals(0, p.exitValue(), out);
        double torch = GSON.fromJson(out.strip().lines().reduce((a, b) -> b).orElseThrow(), JsonObject.class)
                .get("loss").getAsDouble();
        assertEquals(torch, engine, 1e-5, "bptt eval and torch_check.py on the same " + cellName + " checkpoint");
    }

    private record Cli(int exit, String out) { }

    private static Cli cli(String... args) {
        java.io.PrintStream saved = System.out;
        java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
        System.setOut(new java.io.PrintStream(bytes, true, StandardCharsets.UTF_8));
        try {
            int exit = bptt.cli.Main.execute(args);
            return new Cli(exit, bytes.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(saved);
        }
    }

    /** A random window: inputs, targets (one in five is -1), h0 and c0. */
    private static JsonObject problem(RnnConfig cfg, SplittableRandom random) {
        JsonObject o = new JsonObject();
        o.addProperty("batch", B);
        o.addProperty("seq_len", T);
        o.addProperty("lr", (double) LR);
        JsonArray inputs = new JsonArray();
        for (int i = 0; i < T * B * (cfg.tokenInput() ? 1 : cfg.inputSize()); i++) {
            if (cfg.tokenInput()) {
                inputs.add(random.nextInt(cfg.inputSize()));
            } else {
                inputs.add((double) (float) random.nextDouble(-1, 1));
            }
        }
        o.add("inputs", inputs);
        JsonArray targets = new JsonArray();
        for (int i = 0; i < T * B; i++) {
            targets.add(i == 0 || random.nextInt(5) != 0 ? random.nextInt(cfg.outputSize()) : -1);
        }
        o.add("targets", targets);
        for (String state : new String[]{"h0", "c0"}) {
            JsonArray v = new JsonArray();
            for (int i = 0; i < cfg.layers() * B * H; i++) {
                v.add((double) (float) random.nextDouble(-0.5, 0.5));
            }
            o.add(state, v);
        }
        return o;
    }

    private JsonObject runTorch(Path problem, Path ckpt) throws IOException, InterruptedException {
        Path script = dir.resolve("torch_step.py");
        try (InputStream in = TorchAutogradTest.class.getResourceAsStream("/torch_step.py")) {
            Files.write(script, in.readAllBytes());
        }
        Path out = dir.resolve("torch.json");
        ProcessBuilder pb = new ProcessBuilder(PYTHON, script.toString(), problem.toString(), ckpt.toString(),
                out.toString()).redirectErrorStream(true);
        pb.environment().put("PYTHONPATH", Path.of("scripts").toAbsolutePath().toString());
        Process p = pb.start();
        String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(300, TimeUnit.SECONDS), "PyTorch did not finish in 300 s");
        assertEquals(0, p.exitValue(), "torch_step.py failed:\n" + log);
        return GSON.fromJson(Files.readString(out), JsonObject.class);
    }

    /** Loads the weights and the window, then one forward and backward pass; returns the loss. */
    private static double forwardBackward(Backend be, Rnn rnn, Workspace ws, float[] params, JsonObject problem) {
        RnnConfig cfg = rnn.config();
        be.upload(params, rnn.params());
        WindowFill.fill(ws, floats(problem.getAsJsonArray("inputs")), floats(problem.getAsJsonArray("targets")));
        float[] h0 = floats(problem.getAsJsonArray("h0"));
        float[] c0 = floats(problem.getAsJsonArray("c0"));
        int n = B * H;
        for (int l = 0; l < cfg.layers(); l++) {
            be.upload(java.util.Arrays.copyOfRange(h0, l * n, (l + 1) * n), ws.initialState(l));
            if (cfg.cell().hasCellState()) {
                be.upload(java.util.Arrays.copyOfRange(c0, l * n, (l + 1) * n), ws.initialCellState(l));
            }
        }
        double loss = ws.forward();
        ws.backward();
        return loss;
    }

    /** dL/dh0 (or dL/dc0) of every layer, [L, B, H] as PyTorch lays out its initial state. */
    private static double[] stateGrads(Backend be, Workspace ws, RnnConfig cfg, boolean cellState) {
        int n = B * H;
        double[] out = new double[cfg.layers() * n];
        for (int l = 0; l < cfg.layers(); l++) {
            double[] g = be.downloadDoubles(cellState ? ws.initialCellStateGrad(l) : ws.initialStateGrad(l));
            System.arraycopy(g, 0, out, l * n, n);
        }
        return out;
    }

    /** Each engine parameter's slice of {@code slab} against PyTorch's tensor of the same name. */
    private static void compareSlab(String what, Rnn rnn, double[] slab, JsonObject torch, double tol, boolean skipBiases) {
        for (Map.Entry<String, String> e : torchNames(rnn.config()).entrySet()) {
            if (skipBiases && e.getValue().startsWith("rnn.bias")) {
                continue;   // the tanh cell's one bias stands for PyTorch's two, which its optimizers update apart
            }
            ParameterLayout.Entry entry = rnn.layout().entry(e.getKey());
            double[] mine = java.util.Arrays.copyOfRange(slab, (int) entry.start(), (int) (entry.start() + entry.size()));
            compare(what + " of " + e.getValue(), mine, torch.getAsJsonArray(e.getValue()), tol);
        }
    }

    /** |mine − torch| ≤ tol·(max|torch| + |torch|), element by element. */
    private static void compare(String what, double[] mine, JsonArray torch, double tol) {
        assertEquals(torch.size(), mine.length, what + ": element count");
        double max = 0;
        for (int i = 0; i < torch.size(); i++) {
            max = Math.max(max, Math.abs(torch.get(i).getAsDouble()));
        }
        assertTrue(max > 0, what + " is all zeros in PyTorch: the comparison would prove nothing");
        for (int i = 0; i < mine.length; i++) {
            double want = torch.get(i).getAsDouble();
            assertTrue(Math.abs(mine[i] - want) <= tol * (max + Math.abs(want)),
                    what + "[" + i + "]: engine " + mine[i] + ", PyTorch " + want);
        }
    }

    private static float[] floats(JsonArray a) {
        float[] v = new float[a.size()];
        for (int i = 0; i < v.length; i++) {
            v[i] = a.get(i).getAsFloat();
        }
        return v;
    }
}
