// JvmProcess: runs a main class in a fresh JVM with this test JVM's class path and coverage agent, and a changed environment.
package bptt.backend.cuda;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * For what one JVM cannot show: the CUDA emulator reads its configuration (memory size,
 * driver version, fill) and the backend reads BPTT_CUDA_SYNC from the environment at start, and
 * a fault poisons a CUDA context for the rest of a process, as on a GPU. The child inherits
 * this JVM's environment (so LD_LIBRARY_PATH points at the emulator and NVRTC) with
 * {@code changes} applied (a null value removes the variable), and JaCoCo's agent, so its
 * lines count as covered.
 */
final class JvmProcess {
    private JvmProcess() { }

    record Result(int exit, String output) { }

    static Result run(Map<String, String> changes, String mainClass, String... args) {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        for (String jvmArg : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (jvmArg.startsWith("-javaagent:")) {
                command.add(jvmArg);
            }
        }
        command.add("-Xmx512m");
        command.add("-cp");
        command.add(System.getProperty("java.class.path"));
        command.add(mainClass);
        command.addAll(List.of(args));
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
        changes.forEach((name, value) -> {
            if (value == null) {
                builder.environment().remove(name);
            } else {
                builder.environment().put(name, value);
            }
        });
        try {
            Process p = builder.start();
            p.getOutputStream().close();
            byte[] out = p.getInputStream().readAllBytes();
            if (!p.waitFor(10, TimeUnit.MINUTES)) {
                p.destroyForcibly();
                throw new AssertionError(mainClass + " did not finish in 10 minutes");
            }
            return new Result(p.exitValue(), new String(out, StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new AssertionError("cannot start " + command, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted", e);
        }
    }
}
