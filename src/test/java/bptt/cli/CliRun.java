// CliRun: runs a bptt command in this JVM through Main.execute and captures its exit code and standard output.
package bptt.cli;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

/** A command's exit code and what it printed on stdout, as the jar would run it. */
public record CliRun(int exit, String out) {
    public static CliRun of(String... args) {
        PrintStream saved = System.out;
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        System.setOut(new PrintStream(bytes, true, StandardCharsets.UTF_8));
        try {
            int exit = Main.execute(args);
            return new CliRun(exit, bytes.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(saved);
        }
    }
}
