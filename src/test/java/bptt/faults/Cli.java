// Cli: runs the bptt command line for the fault suite, in this JVM (captured streams) or as a child process.
package bptt.faults;

import bptt.cli.Main;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** What a command printed and returned. */
record Cli(int exit, String out, String err) {

    /** Runs {@code bptt args} in this JVM with System.out and System.err captured. */
    static Cli run(String... args) {
        return runWithStdout(new ByteArrayOutputStream(), args);
    }

    /** The same, with stdout going to {@code stdout} (e.g. one that fails like a closed pipe). */
    static Cli runWithStdout(OutputStream stdout, String... args) {
        PrintStream oldOut = System.out;
        PrintStream oldErr = System.err;
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        PrintStream out = new PrintStream(stdout, true, StandardCharsets.UTF_8);
        System.setOut(out);
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        try {
            int exit = Main.execute(args);
            out.flush();
            return new Cli(exit, stdout instanceof ByteArrayOutputStream b ? b.toString(StandardCharsets.UTF_8) : "",
                    err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }

    /** The command line of a child JVM running bptt with this test's class path. */
    static List<String> childCommand(String... args) {
        List<String> command = new ArrayList<>();
        command.add(ProcessHandle.current().info().command().orElse("java"));
        command.add("-XX:-UsePerfData");
        command.add("-cp");
        command.add(System.getProperty("java.class.path"));
        command.add(Main.class.getName());
        command.addAll(List.of(args));
        return command;
    }

    /** Runs {@code command} in {@code dir} to completion (at most 120 s), output captured. */
    static Cli child(Path dir, List<String> command) throws IOException, InterruptedException {
        Path out = Files.createTempFile(dir, "out", ".txt");
        Path err = Files.createTempFile(dir, "err", ".txt");
        Process p = new ProcessBuilder(command).directory(dir.toFile()).redirectOutput(out.toFile())
                .redirectError(err.toFile()).start();
        try {
            if (!p.waitFor(120, TimeUnit.SECONDS)) {
                throw new AssertionError("did not finish in 120 s: " + command);
            }
            return new Cli(p.exitValue(), Files.readString(out), Files.readString(err));
        } finally {
            p.destroyForcibly();
        }
    }

    /** The one error line, checked to be exactly one line starting "error: ". */
    String errorLine() {
        String e = err.strip();
        if (e.lines().count() != 1 || !e.startsWith("error: ")) {
            throw new AssertionError("expected one line 'error: …' on stderr, got:\n" + err + "\nstdout:\n" + out);
        }
        return e;
    }

    @Override
    public String toString() { return "exit " + exit + "\nstdout:\n" + out + "\nstderr:\n" + err; }
}
