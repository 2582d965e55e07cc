// ScriptsTest: scripts/bptt off a terminal prints no escape codes and caps only the heap, and torch_check.py scores a checkpoint as eval does.
package bptt.faults;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ScriptsTest {
    @TempDir
    Path dir;

    /**
     * scripts/bptt copied into a scratch tree whose sources are newer than its jar, so it builds:
     * with stand-ins for mvn (printing Maven's colour resets as Maven 3.8 does) and java.
     */
    @Test
    void theLauncherStripsMavensEscapeCodesWhenStderrIsNotATerminal() throws Exception {
        Path root = launcherTree("#!/bin/sh\necho \"java $*\"\n");
        Cli launched = launch(root, "", "devices");
        assertEquals(0, launched.exit(), launched.err());
        assertTrue(launched.err().contains("building"), launched.err());
        assertTrue(launched.out().contains("-jar " + root.resolve("target/bptt-cli.jar") + " devices"));
        assertFalse(launched.err().contains("\u001b"), "escape codes on stderr: " + launched.err().replace("\u001b", "^["));
    }

    /**
     * README (Long sequences): BPTT_JAVA_OPTS=-Xmx… caps the Java heap only. The JVM flags the
     * launcher passes (recorded by a stand-in java) run a real bench in a child JVM with a 32 MiB
     * heap whose cpu tensors take over 64 MiB of native memory; the same heap cap without the
     * launcher's flags is refused, since JavaCPP and direct buffers then default to -Xmx.
     */
    @Test
    void aCappedHeapLeavesNativeMemoryToTheMachine() throws Exception {
        Assumptions.assumeTrue(bptt.backend.Backends.provider("cpu").probe().available(), "cpu backend unavailable");
        Path root = launcherTree("#!/bin/sh\nprintf '%s\\n' \"$@\"\n");
        Cli launched = launch(root, "-Xmx32m", "devices");
        assertEquals(0, launched.exit(), launched.err());
        List<String> flags = launched.out().lines().takeWhile(a -> !a.equals("-jar")).toList();
        assertEquals("-Xmx32m", flags.get(flags.size() - 1), "BPTT_JAVA_OPTS comes last: " + flags);
        List<String> bench = List.of("bench", "--backend", "cpu", "--batch", "16", "--seq-len", "10000", "--hidden", "64",
                "--checkpoint-every", "0", "--warmup", "0", "--repeats", "1", "--json");
        Cli fits = Cli.child(dir, jvm(flags, bench));
        assertEquals(0, fits.exit(), fits.toString());
        Matcher peak = Pattern.compile("\"peak_bytes\":(\\d+)").matcher(fits.out());
        assertTrue(peak.find() && Long.parseLong(peak.group(1)) > 64L << 20, fits.out());
        Cli capped = Cli.child(dir, jvm(List.of("--add-modules", "jdk.incubator.vector", "-Xmx32m"), bench));
        assertEquals(2, capped.exit(), capped.toString());
        assertTrue(capped.err().contains("error: the run needs") && capped.err().contains("MiB free"), capped.toString());
    }

    /** A repository with scripts/bptt, sources newer than its jar, and stand-ins for mvn and java (this script) on a bin path. */
    private Path launcherTree(String javaScript) throws Exception {
        Path root = Files.createDirectories(dir.resolve("repo"));
        Files.createDirectories(root.resolve("scripts"));
        Files.copy(Path.of("scripts/bptt"), root.resolve("scripts/bptt"));
        Files.createDirectories(root.resolve("src/main"));
        Files.createDirectories(root.resolve("kernels"));
        Files.writeString(root.resolve("pom.xml"), "<project/>");
        Path bin = Files.createDirectories(dir.resolve("bin"));
        Path mvn = Files.writeString(bin.resolve("mvn"), "#!/bin/sh\nprintf '\\033[0m\\033[0m'\nprintf '\\033[0m' >&2\n"
                + "mkdir -p target && : > target/bptt-cli.jar\n");
        Path java = Files.writeString(bin.resolve("java"), javaScript);
        for (Path tool : new Path[]{mvn, java}) {
            Files.setPosixFilePermissions(tool, PosixFilePermissions.fromString("rwxr-xr-x"));
        }
        return root;
    }

    /** Runs the tree's scripts/bptt with the stand-ins first on PATH and BPTT_JAVA_OPTS set. */
    private Cli launch(Path root, String javaOpts, String... args) throws Exception {
        List<String> command = new java.util.ArrayList<>(List.of("bash", root.resolve("scripts/bptt").toString()));
        command.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(command);
        pb.environment().put("PATH", dir.resolve("bin") + ":" + System.getenv("PATH"));
        pb.environment().put("BPTT_JAVA_OPTS", javaOpts);
        Path err = dir.resolve("err.txt");
        Path out = dir.resolve("out.txt");
        Process p = pb.redirectError(err.toFile()).redirectOutput(out.toFile()).start();
        int exit = p.waitFor();
        return new Cli(exit, Files.readString(out), Files.readString(err));
    }

    /** This JVM's java with {@code flags}, running bptt from the test class path. */
    private static List<String> jvm(List<String> flags, List<String> args) {
        List<String> command = new java.util.ArrayList<>();
        command.add(ProcessHandle.current().info().command().orElse("java"));
        command.addAll(flags);
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), bptt.cli.Main.class.getName()));
        command.addAll(args);
        return command;
    }

    /** README: torch_check.py loads a checkpoint into torch.nn.RNN + Linear and prints the loss eval prints. */
    @Test
    void torchScoresACheckpointAsEvalDoes() throws Exception {
        Path python = Path.of("/usr/bin/python3");
        Assumptions.assumeTrue(Files.isExecutable(python), "no /usr/bin/python3");
        Process probe = new ProcessBuilder(python.toString(), "-c", "import torch").start();
        Assumptions.assumeTrue(probe.waitFor() == 0, "PyTorch is not installed (apt-get install python3-torch)");
        Path text = Files.writeString(dir.resolve("t.txt"), "abc abd\r\nabe, abc. ".repeat(30) + "the end");
        Path ckpt = dir.resolve("m.safetensors");
        Cli trained = Cli.run("train", "--backend", "cpu-ref", "--data", text.toString(), "--hidden", "7", "--layers", "2",
                "--batch", "3", "--seq-len", "9", "--steps", "20", "--save", ckpt.toString());
        assertEquals(0, trained.exit(), trained.toString());
        Cli eval = Cli.run("eval", "--backend", "cpu-ref", "--checkpoint", ckpt.toString(), "--data", text.toString(),
                "--batch", "5", "--seq-len", "11", "--json");
        Cli torch = Cli.child(dir, List.of(python.toString(), Path.of("scripts/torch_check.py").toAbsolutePath().toString(),
                ckpt.toString(), text.toString(), "5", "11"));
        assertEquals(0, torch.exit(), torch.toString());
        assertEquals(number(eval.out(), "tokens"), number(torch.out(), "tokens"), 0, eval.out() + torch.out());
        assertEquals(number(eval.out(), "loss"), number(torch.out(), "loss"), 1e-5, eval.out() + torch.out());
    }

    private static double number(String json, String key) {
        Matcher m = Pattern.compile("\"" + key + "\": ([-0-9.eE+]+)").matcher(json);
        assertTrue(m.find(), key + " in " + json);
        return Double.parseDouble(m.group(1));
    }
}
