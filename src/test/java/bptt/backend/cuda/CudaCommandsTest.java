// CudaCommandsTest: the commands a user runs, on --backend cuda under the emulator: conformance, train, resume, eval, sample, bench.
package bptt.backend.cuda;

import bptt.cli.CliRun;
import bptt.cli.Main;
import bptt.train.SafetensorsFile;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Runs {@code bptt} commands in this JVM (through {@link Main#execute}, as the jar would) with
 * {@code --backend cuda}, so the whole cuda path of each command executes through JCuda on the
 * emulated driver; the out-of-memory run needs a small emulated device and so a JVM of its own.
 */
class CudaCommandsTest {
    @TempDir
    Path dir;

    @BeforeEach
    void needEmulator() { EmulatedDevices.require(); }

    private static CliRun bptt(String... args) { return CliRun.of(args); }

    private Path text() throws IOException {
        Path file = dir.resolve("text.txt");
        Files.writeString(file, "It was the best of times, it was the worst of times, it was the age of wisdom, "
                .repeat(12));
        return file;
    }

    private static String[] train(Path data, Path save, String... more) {
        String[] base = {"train", "--backend", "cuda", "--data", data.toString(), "--hidden", "24", "--layers", "2",
                "--batch", "4", "--seq-len", "16", "--eval-every", "10", "--save-every", "0", "--save", save.toString()};
        String[] all = new String[base.length + more.length];
        System.arraycopy(base, 0, all, 0, base.length);
        System.arraycopy(more, 0, all, base.length, more.length);
        return all;
    }

    @Test
    void conformanceOfEveryOpAndModelAndDeterminism() {
        CliRun r = bptt("conformance", "--backend", "cuda");
        assertEquals(0, r.exit(), r.out());
        assertTrue(r.out().contains("model token L=1 ckpt") && r.out().contains("T=1000"), r.out());
        assertTrue(r.out().contains("(repeat)"), "determinism checks: " + r.out());
        assertTrue(r.out().matches("(?s).*\\d+ checks, 0 failed.*"), r.out());
    }

    @Test
    void trainingThenResumingIsBitwiseTheUninterruptedRun() throws IOException {
        Path data = text();
        Path straight = dir.resolve("straight.safetensors");
        Path resumed = dir.resolve("resumed.safetensors");
        assertEquals(0, bptt(train(data, straight, "--steps", "30")).exit());
        assertEquals(0, bptt(train(data, resumed, "--steps", "13")).exit());
        CliRun rest = bptt("train", "--backend", "cuda", "--resume", resumed.toString(), "--steps", "30", "--save",
                resumed.toString());
        assertEquals(0, rest.exit(), rest.out());
        Map<String, SafetensorsFile.TensorData> a = SafetensorsFile.read(straight).tensors();
        Map<String, SafetensorsFile.TensorData> b = SafetensorsFile.read(resumed).tensors();
        assertEquals(a.keySet(), b.keySet());
        for (String name : a.keySet()) {
            assertArrayEquals(a.get(name).values(), b.get(name).values(), name + " after 30 steps, resumed at 13");
        }
        assertTrue(a.containsKey("rnn.weight_hh_l1") && a.containsKey("optim.m"), a.keySet().toString());
    }

    @Test
    void evalAndSampleOfACudaTrainedCheckpointAgreeWithPyTorch() throws Exception {
        Path data = text();
        Path ckpt = dir.resolve("model.safetensors");
        assertEquals(0, bptt(train(data, ckpt, "--steps", "20")).exit());
        CliRun eval = bptt("eval", "--backend", "cuda", "--checkpoint", ckpt.toString(), "--data", data.toString(),
                "--batch", "4", "--seq-len", "16", "--json");
        assertEquals(0, eval.exit(), eval.out());
        double loss = number(eval.out(), "loss");
        assertTrue(loss > 0 && loss < Math.log(30), eval.out());
        CliRun sample = bptt("sample", "--backend", "cuda", "--checkpoint", ckpt.toString(), "--length", "80",
                "--prime", "It was");
        assertEquals(0, sample.exit(), sample.out());
        assertTrue(sample.out().startsWith("It was") && sample.out().strip().length() >= 80, sample.out());

        String python = "/usr/bin/python3";
        Assumptions.assumeTrue(new File(python).canExecute() && run(python, "-c", "import torch").exitValue() == 0,
                "PyTorch (Debian's python3-torch) is not installed: scripts/torch_check.py not run");
        Process torch = run(python, "scripts/torch_check.py", ckpt.toString(), data.toString(), "4", "16");
        String out = new String(torch.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, torch.exitValue(), out);
        assertEquals(loss, number(out, "loss"), 1e-5 * loss, "PyTorch's loss of the cuda-trained checkpoint: " + out);
    }

    private static Process run(String... command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        p.waitFor(5, TimeUnit.MINUTES);
        return p;
    }

    private static double number(String json, String key) {
        Matcher m = Pattern.compile("\"" + key + "\": ?([-0-9.eE]+)").matcher(json);
        assertTrue(m.find(), key + " in " + json);
        return Double.parseDouble(m.group(1));
    }

    @Test
    void benchMarksItsFiguresAsEmulated() {
        CliRun r = bptt("bench", "--backend", "cuda", "--batch", "2", "--seq-len", "8", "--hidden", "16", "--vocab", "11",
                "--warmup", "1", "--repeats", "2");
        assertEquals(0, r.exit(), r.out());
        assertTrue(r.out().contains("EMULATED on the host by bptt's test emulator: timings are not GPU timings"),
                r.out());
    }

    @Test
    void outOfMemoryIsOneClearLineWithTheDevicesNumbers() throws IOException {
        Path data = text();
        Path save = dir.resolve("oom.safetensors");
        JvmProcess.Result r = JvmProcess.run(Map.of("BPTT_CUDA_EMULATOR_MEMORY", "32m"), "bptt.cli.Main",
                "train", "--backend", "cuda", "--data", data.toString(), "--hidden", "2048", "--batch", "4",
                "--seq-len", "16", "--steps", "2", "--save", save.toString());
        assertEquals(2, r.exit(), r.output());
        assertTrue(r.output().matches("(?s)error: CUDA device out of memory: requested \\d+ bytes \\([0-9.]+ [KM]iB\\),"
                + " free \\d+ bytes .* of 33554432 bytes \\(32.00 MiB\\) \\(bptt holds \\d+ bytes.*"), r.output());
        assertFalse(r.output().contains("\tat "), "no stack trace: " + r.output());
        assertFalse(Files.exists(save), "nothing was trained, nothing saved");
    }
}
