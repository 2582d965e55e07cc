// VectorModuleTest: the cpu backend with and without the Vector API module in the JVM (a fresh JVM each), as users start it.
package bptt.backend.cpu;

import bptt.cli.Main;
import bptt.conformance.TestBackends;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * `java -jar` without {@code --add-modules jdk.incubator.vector} must still run, on the plain
 * loops, and say how to get the fast kernels; with the module (as scripts/bptt starts the JVM)
 * the Vector API kernels run.
 */
class VectorModuleTest {
    @TempDir
    Path dir;

    private String run(boolean module, String... args) throws Exception {
        List<String> cmd = new ArrayList<>();
        cmd.add(ProcessHandle.current().info().command().orElse("java"));
        if (module) {
            cmd.add("--add-modules");
            cmd.add("jdk.incubator.vector");
        }
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), Main.class.getName()));
        cmd.addAll(List.of(args));
        Path out = dir.resolve("out.txt");
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(out.toFile()).start();
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "bptt " + String.join(" ", args) + " did not finish");
        String output = Files.readString(out);
        assertEquals(0, p.exitValue(), output);
        return output;
    }

    @Test
    void withoutTheModuleTheBackendRunsOnPlainLoopsAndSaysWhy() throws Exception {
        String devices = run(false, "devices");
        assertTrue(devices.contains("plain Java loops (start the JVM with --add-modules jdk.incubator.vector"), devices);
        String bench = run(false, "bench", "--backend", "cpu", "--batch", "3", "--seq-len", "5", "--hidden", "70",
                "--vocab", "7", "--warmup", "1", "--repeats", "1", "--json");
        assertTrue(bench.contains("\"device\":\"" + Runtime.getRuntime().availableProcessors() + " threads")
                && bench.contains("plain Java loops"), bench);
    }

    @Test
    void withTheModuleTheVectorKernelsRun() throws Exception {
        String devices = run(true, "devices");
        if (TestBackends.required().contains("cpu")) {
            assertNull(CpuBackend.vectorKernelsUnavailableReason(), "the Vector API kernels must run where cpu is required");
        }
        if (CpuBackend.vectorKernelsUnavailableReason() == null) {
            assertTrue(devices.contains("Vector API kernels"), devices);
        }
    }
}
