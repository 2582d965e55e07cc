// ResumeCommandTest: train --resume continues every kind of run (text, task, CSV series, .npy sequences) bit for bit; --init-from takes its weights.
package bptt.cli;

import bptt.train.Checkpoint;
import bptt.train.CheckpointIo;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The CLI's whole path (flags, checkpoint settings, the API's Training.resume), on cpu-ref. */
class ResumeCommandTest {
    @TempDir
    Path dir;

    /**
     * README: "--resume continues bit for bit". 9 steps, then --resume to 30 (the data, its
     * layout, the window and every setting from the checkpoint; 30 steps cross an epoch of the
     * files) ends with the same weights, optimizer state, carried state and loss history as 30
     * steps straight, for a text, a task, a CSV series and .npy sequences; --init-from takes a
     * run's weights (and its hidden size) into a new one.
     */
    @ParameterizedTest
    @ValueSource(strings = {"text", "adding", "series", "sequences"})
    void aRunResumesBitForBitAndInitialisesAnother(String kind) throws Exception {
        String[] layout = switch (kind) {
            case "text" -> new String[]{"--data", Files.writeString(dir.resolve("t.txt"),
                    "the quick brown fox jumps over the lazy dog. ".repeat(7)).toString(), "--seq-len", "8", "--batch", "2"};
            case "adding" -> new String[]{"--task", "adding", "--seq-len", "12", "--batch", "4"};
            case "series" -> new String[]{"--data", DenseDataCommandsTest.waveCsv(dir).toString(), "--target-columns", "y",
                    "--seq-len", "20", "--batch", "4"};
            default -> new String[]{"--data", DenseDataCommandsTest.classesNpy(dir).toString(), "--classes", "3",
                    "--batch", "8"};
        };
        String[] settings = {"--backend", "cpu-ref", "--hidden", "8", "--cell", "gru", "--optimizer", "adam",
                "--eval-every", "2", "--seed", "5"};
        Path straight = dir.resolve("straight.safetensors");
        Path halves = dir.resolve("halves.safetensors");
        ok(CliRun.of(concat(concat(new String[]{"train", "--steps", "30", "--save", straight.toString()}, layout), settings)));
        ok(CliRun.of(concat(concat(new String[]{"train", "--steps", "9", "--save", halves.toString()}, layout), settings)));
        CliRun resumed = CliRun.of("train", "--resume", halves.toString(), "--steps", "30", "--backend", "cpu-ref");
        ok(resumed);
        assertTrue(resumed.out().startsWith("resumed " + halves + " at step 9 (epoch 0)"), resumed.out());
        assertTrue(resumed.out().contains("step 30/30"), resumed.out());
        Checkpoint a = CheckpointIo.load(straight);
        Checkpoint b = CheckpointIo.load(halves);
        assertArrayEquals(a.params(), b.params(), "weights");
        assertEquals(a.extras().keySet(), b.extras().keySet());
        for (String extra : a.extras().keySet()) {
            assertArrayEquals(a.extras().get(extra).values(), b.extras().get(extra).values(), extra);
        }
        assertEquals("30", b.metadata().get("step"));
        assertEquals(a.metadata().get("epoch"), b.metadata().get("epoch"));
        if (!kind.equals("adding")) {
            assertTrue(Integer.parseInt(b.metadata().get("epoch")) >= 1, "the run crossed an epoch: " + b.metadata());
        }

        Path next = dir.resolve("next.safetensors");
        CliRun init = CliRun.of(concat(concat(new String[]{"train", "--init-from", straight.toString(), "--steps", "1",
                "--save", next.toString()}, layout), new String[]{"--backend", "cpu-ref"}));
        ok(init);
        assertTrue(init.out().contains("initialised from the weights of " + straight), init.out());
        assertEquals(8, CheckpointIo.load(next).config().hidden());
    }

    /**
     * README: the backend is chosen again on resume: a cpu-ref run resumed on cpu continues from
     * the same state, and ends within float rounding of the run on cpu-ref alone.
     */
    @Test
    void aRunResumedOnAnotherBackendEndsWithinFloatRounding() throws Exception {
        String[] run = {"train", "--task", "adding", "--seq-len", "12", "--batch", "4", "--hidden", "8", "--cell", "lstm",
                "--eval-every", "0"};
        Path alone = dir.resolve("alone.safetensors");
        Path moved = dir.resolve("moved.safetensors");
        ok(CliRun.of(concat(run, new String[]{"--backend", "cpu-ref", "--steps", "10", "--save", alone.toString()})));
        ok(CliRun.of(concat(run, new String[]{"--backend", "cpu-ref", "--steps", "5", "--save", moved.toString()})));
        CliRun resumed = CliRun.of("train", "--resume", moved.toString(), "--backend", "cpu", "--steps", "10");
        ok(resumed);
        assertTrue(resumed.out().contains("backend cpu ("), resumed.out());
        float[] a = CheckpointIo.load(alone).params();
        float[] b = CheckpointIo.load(moved).params();
        for (int i = 0; i < a.length; i++) {
            assertEquals(a[i], b[i], 1e-4, "parameter " + i);
        }
    }

    /** README: a resumed run on a file that has moved is given --data again; without it, one line names the file. */
    @Test
    void aRunOnAMovedFileResumesWithDataGivenAgain() throws Exception {
        Path csv = DenseDataCommandsTest.waveCsv(dir);
        Path ckpt = dir.resolve("m.safetensors");
        ok(CliRun.of("train", "--backend", "cpu-ref", "--data", csv.toString(), "--target-columns", "y", "--seq-len", "20",
                "--hidden", "8", "--steps", "2", "--save", ckpt.toString()));
        Path elsewhere = Files.move(csv, dir.resolve("moved.csv"));
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        PrintStream savedErr = System.err;
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        CliRun lost;
        try {
            lost = CliRun.of("train", "--resume", ckpt.toString(), "--backend", "cpu-ref", "--steps", "4");
        } finally {
            System.setErr(savedErr);
        }
        assertEquals(2, lost.exit(), lost.out());
        assertEquals("error: data file " + csv + " does not exist; pass a .csv or .npy file with --data",
                err.toString(StandardCharsets.UTF_8).strip());
        ok(CliRun.of("train", "--resume", ckpt.toString(), "--backend", "cpu-ref", "--steps", "4", "--data",
                elsewhere.toString()));
        assertEquals("4", CheckpointIo.load(ckpt).metadata().get("step"));
    }

    private static String[] concat(String[] a, String[] b) {
        String[] all = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, all, a.length, b.length);
        return all;
    }

    private static void ok(CliRun r) {
        assertEquals(0, r.exit(), r.out());
    }
}
