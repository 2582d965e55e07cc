// ScriptsTest: scripts/bptt off a terminal prints no escape codes, and torch_check.py scores a checkpoint as eval does.
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
        Path root = Files.createDirectories(dir.resolve("repo"));
        Files.createDirectories(root.resolve("scripts"));
        Files.copy(Path.of("scripts/bptt"), root.resolve("scripts/bptt"));
        Files.createDirectories(root.resolve("src/main"));
        Files.createDirectories(root.resolve("kernels"));
        Files.writeString(root.resolve("pom.xml"), "<project/>");
        Path bin = Files.createDirectories(dir.resolve("bin"));
        Path mvn = Files.writeString(bin.resolve("mvn"), "#!/bin/sh\nprintf '\\033[0m\\033[0m'\nprintf '\\033[0m' >&2\n"
                + "mkdir -p target && : > target/bptt-cli.jar\n");
        Path java = Files.writeString(bin.resolve("java"), "#!/bin/sh\necho \"java $*\"\n");
        for (Path tool : new Path[]{mvn, java}) {
            Files.setPosixFilePermissions(tool, PosixFilePermissions.fromString("rwxr-xr-x"));
        }
        ProcessBuilder pb = new ProcessBuilder("bash", root.resolve("scripts/bptt").toString(), "devices");
        pb.environment().put("PATH", bin + ":" + System.getenv("PATH"));
        Path err = dir.resolve("err.txt");
        Process p = pb.redirectError(err.toFile()).redirectOutput(dir.resolve("out.txt").toFile()).start();
        assertEquals(0, p.waitFor(), Files.readString(err));
        String stderr = Files.readString(err);
        assertTrue(stderr.contains("building"), stderr);
        assertTrue(Files.readString(dir.resolve("out.txt")).contains("-jar " + root.resolve("target/bptt-cli.jar") + " devices"));
        assertFalse(stderr.contains("\u001b"), "escape codes on stderr: " + stderr.replace("\u001b", "^["));
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
