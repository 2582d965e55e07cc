// InterruptTest: Ctrl-C (SIGINT) or SIGTERM during training saves a loadable checkpoint and exits with 130 or 143.
package bptt.cli;

import bptt.train.Checkpoint;
import bptt.train.CheckpointIo;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class InterruptTest {
    @TempDir
    Path dir;

    @ParameterizedTest(name = "SIG{0} exits {1}")
    @CsvSource({"INT, 130", "TERM, 143"})
    void aSignalSavesACheckpointAndExitsCleanly(String signal, int exitCode) throws Exception {
        Path text = Files.writeString(dir.resolve("t.txt"), "abcdefg hijklmnop qrstuv wxyz. ".repeat(200));
        Path ckpt = dir.resolve("run.safetensors");
        Path log = dir.resolve("log.jsonl");
        String java = ProcessHandle.current().info().command().orElse("java");
        Process p = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"), Main.class.getName(),
                "train", "--backend", "cpu-ref", "--data", text.toString(), "--steps", "1000000", "--hidden", "8",
                "--batch", "2", "--seq-len", "8", "--save", ckpt.toString(), "--save-every", "0", "--eval-every", "0",
                "--log", log.toString())
                .redirectErrorStream(true).redirectOutput(dir.resolve("out.txt").toFile()).start();
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (!(Files.exists(log) && Files.readAllLines(log).size() >= 3)) {
                assertTrue(p.isAlive(), "trainer exited early: " + Files.readString(dir.resolve("out.txt")));
                assertTrue(System.nanoTime() < deadline, "trainer did not start within 60 s");
                Thread.sleep(50);
            }
            new ProcessBuilder("kill", "-" + signal, Long.toString(p.pid())).start().waitFor();
            assertTrue(p.waitFor(60, TimeUnit.SECONDS), "trainer did not stop after SIG" + signal);
            String output = Files.readString(dir.resolve("out.txt"));
            assertEquals(exitCode, p.exitValue(), output);
            assertTrue(output.contains("interrupted; checkpoint: " + ckpt), output);
            Checkpoint saved = CheckpointIo.load(ckpt);
            int step = Integer.parseInt(saved.metadata().get("step"));
            List<String> lines = Files.readAllLines(log);
            assertTrue(step >= 3 && step >= lines.size(), "saved step " + step + " after " + lines.size() + " logged steps");
        } finally {
            p.destroyForcibly();
        }
    }
}
