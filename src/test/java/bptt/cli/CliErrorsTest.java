// CliErrorsTest: bad input gives one line "error: ..." that says what to do, and exit code 2.
package bptt.cli;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CliErrorsTest {
    @TempDir
    Path dir;
    private final ByteArrayOutputStream err = new ByteArrayOutputStream();
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private PrintStream oldErr;
    private PrintStream oldOut;

    @BeforeEach
    void capture() {
        oldErr = System.err;
        oldOut = System.out;
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
    }

    @AfterEach
    void restore() {
        System.setErr(oldErr);
        System.setOut(oldOut);
    }

    /** Runs the CLI and asserts exit code 2 and a single error line containing every fragment. */
    private void assertUserError(String[] args, String... fragments) {
        ErrorLine.assertUserError(Main.execute(args), err.toString(StandardCharsets.UTF_8), args, fragments);
    }

    @Test
    void missingDataFile() {
        assertUserError(new String[]{"train", "--backend", "cpu-ref", "--data", dir.resolve("nope.txt").toString()},
                "does not exist", "--data");
    }

    @Test
    void emptyDataFile() throws IOException {
        Path empty = Files.createFile(dir.resolve("empty.txt"));
        assertUserError(new String[]{"train", "--backend", "cpu-ref", "--data", empty.toString()}, "is empty");
    }

    @Test
    void binaryDataFile() throws IOException {
        Path bin = Files.write(dir.resolve("bin.dat"), new byte[]{(byte) 0xff, (byte) 0xfe, 0, 1});
        assertUserError(new String[]{"train", "--backend", "cpu-ref", "--data", bin.toString()}, "not valid UTF-8");
    }

    @Test
    void sequenceLengthLongerThanTheData() throws IOException {
        Path small = Files.writeString(dir.resolve("small.txt"), "hello world, hello rnn\n".repeat(20));
        assertUserError(new String[]{"train", "--backend", "cpu-ref", "--data", small.toString(), "--batch", "4",
                "--seq-len", "500"}, "--seq-len 500 is longer than the data", "lower --seq-len or --batch");
    }

    @Test
    void unknownBackend() {
        assertUserError(new String[]{"train", "--backend", "tpu"}, "unknown backend 'tpu'", "cpu-ref");
    }

    @Test
    void nonPositiveHiddenSize() {
        assertUserError(new String[]{"train", "--backend", "cpu-ref", "--hidden", "0"}, "--hidden must be a positive integer");
        err.reset();
        assertUserError(new String[]{"train", "--backend", "cpu-ref", "--hidden", "-3"}, "--hidden");
    }

    @Test
    void malformedNumberAndUnknownFlag() {
        assertUserError(new String[]{"train", "--hidden", "lots"}, "--hidden");
        err.reset();
        assertUserError(new String[]{"train", "--hiden", "3"}, "--hiden");
    }

    @Test
    void trainingOnATinyFileLearns() throws IOException {
        Path text = Files.writeString(dir.resolve("abc.txt"), "abcabcabcabc abcabc\n".repeat(40));
        Path save = dir.resolve("abc.safetensors");
        int code = Main.execute("train", "--backend", "cpu-ref", "--data", text.toString(), "--batch", "4",
                "--seq-len", "8", "--hidden", "16", "--steps", "40", "--val-fraction", "0.1", "--save", save.toString());
        String stdout = out.toString(StandardCharsets.UTF_8);
        assertEquals(0, code, stdout + err.toString(StandardCharsets.UTF_8));
        Matcher done = Pattern.compile("done: steps 1\\.\\.40 .*; loss ([0-9.]+) -> ([0-9.]+) nats").matcher(stdout);
        assertTrue(done.find(), stdout);
        double first = Double.parseDouble(done.group(1));
        double last = Double.parseDouble(done.group(2));
        // 5 symbols: the uniform baseline is ln 5 = 1.61; "abc" repeats, so 40 steps must learn most of it.
        assertTrue(first > 1.4 && last < 0.6 * first, "loss must fall from about ln 5 by 40%: " + first + " -> " + last);
        assertTrue(Files.isRegularFile(save), "the checkpoint goes where --save says");
    }
}
