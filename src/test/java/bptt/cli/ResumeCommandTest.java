// ResumeCommandTest: train --resume continues every kind of run (text, task, CSV series, .npy sequences) bit for bit; --init-from takes its weights.
package bptt.cli;

import bptt.train.Checkpoint;
import bptt.train.CheckpointIo;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

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

    private static String[] concat(String[] a, String[] b) {
        String[] all = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, all, a.length, b.length);
        return all;
    }

    private static void ok(CliRun r) {
        assertEquals(0, r.exit(), r.out());
    }
}
