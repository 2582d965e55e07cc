// CellCommandsTest: --cell through train, resume, init-from, eval, sample and bench; --init chrono; bad cells are user errors.
package bptt.cli;

import bptt.rnn.Cell;
import bptt.rnn.ParameterLayout;
import bptt.train.Checkpoint;
import bptt.train.CheckpointIo;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CellCommandsTest {
    @TempDir
    Path dir;

    private record Run(int exit, String out, String err) { }

    private static Run run(String... args) {
        PrintStream savedOut = System.out;
        PrintStream savedErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        try {
            int exit = Main.execute(args);
            return new Run(exit, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(savedOut);
            System.setErr(savedErr);
        }
    }

    private Path text() throws IOException {
        Path text = dir.resolve("text.txt");
        Files.writeString(text, "to be or not to be, that is the question. ".repeat(10));
        return text;
    }

    private Run train(Path save, String... more) throws IOException {
        String[] base = {"train", "--backend", "cpu-ref", "--data", text().toString(), "--hidden", "6", "--batch", "2",
                "--seq-len", "8", "--eval-every", "0", "--save", save.toString()};
        String[] args = new String[base.length + more.length];
        System.arraycopy(base, 0, args, 0, base.length);
        System.arraycopy(more, 0, args, base.length, more.length);
        return run(args);
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"lstm", "gru"})
    void aCellTrainsResumesEvaluatesAndSamplesFromItsCheckpoint(String cell) throws IOException {
        Path ckpt = dir.resolve(cell + ".safetensors");
        Run first = train(ckpt, "--cell", cell, "--steps", "3");
        assertEquals(0, first.exit(), first.err());
        assertTrue(first.out().contains("hidden (" + cell + ")"), first.out());
        assertEquals(Cell.parse(cell), CheckpointIo.load(ckpt).config().cell());

        Run resumed = run("train", "--resume", ckpt.toString(), "--steps", "5");
        assertEquals(0, resumed.exit(), resumed.err());
        assertTrue(resumed.out().contains("resumed") && resumed.out().contains("hidden (" + cell + ")"), resumed.out());
        assertEquals("5", CheckpointIo.load(ckpt).metadata().get("step"));

        Run eval = run("eval", "--checkpoint", ckpt.toString(), "--data", text().toString(), "--backend", "cpu-ref",
                "--batch", "2", "--seq-len", "8", "--json");
        assertEquals(0, eval.exit(), eval.err());
        assertTrue(eval.out().contains("\"loss\""), eval.out());
        Run sample = run("sample", "--checkpoint", ckpt.toString(), "--backend", "cpu-ref", "--length", "20");
        assertEquals(0, sample.exit(), sample.err());
        assertTrue(sample.out().strip().length() >= 20, "20 generated characters: " + sample.out());
    }

    @Test
    void initFromTakesTheCheckpointsCellAndAnotherCellIsRefused() throws IOException {
        Path lstm = dir.resolve("lstm.safetensors");
        Run first = train(lstm, "--cell", "lstm", "--steps", "1");
        assertEquals(0, first.exit(), first.err());
        Run init = train(dir.resolve("next.safetensors"), "--init-from", lstm.toString(), "--steps", "1");
        assertEquals(0, init.exit(), init.err());
        assertTrue(init.out().contains("hidden (lstm)"), init.out());
        Run other = run("train", "--resume", lstm.toString(), "--cell", "gru", "--steps", "2");
        assertEquals(2, other.exit(), other.out());
        assertTrue(other.err().startsWith("error: ") && other.err().contains("lstm") && other.err().contains("--cell"),
                other.err());
    }

    @Test
    void anUnknownCellIsOneLineUserError() throws IOException {
        Run r = train(dir.resolve("x.safetensors"), "--cell", "rnn2", "--steps", "1");
        assertEquals(2, r.exit());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        assertTrue(r.err().startsWith("error: unknown cell 'rnn2'; choose tanh, lstm or gru"), r.err());
        Run bench = run("bench", "--backend", "cpu-ref", "--cell", "rnn2");
        assertEquals(2, bench.exit());
        assertTrue(bench.err().contains("unknown cell"), bench.err());
    }

    @Test
    void chronoInitSetsTheKeepGateBiasesAndNeedsAGatedCell() throws IOException {
        Path ckpt = dir.resolve("chrono.safetensors");
        Run chrono = train(ckpt, "--cell", "lstm", "--init", "chrono", "--steps", "0");
        assertEquals(0, chrono.exit(), chrono.err());
        Checkpoint c = CheckpointIo.load(ckpt);
        ParameterLayout layout = new ParameterLayout(c.config());
        int h = c.config().hidden();
        long bi = layout.entry(ParameterLayout.ba(0)).start();
        long bh = layout.entry(ParameterLayout.bh(0)).start();
        for (int j = 0; j < h; j++) {
            float f = c.params()[(int) (bi + h + j)];
            assertTrue(f >= 0 && f <= Math.log(8 - 1) + 1e-6, "b_f = log U(1, T-1) with T = 8, got " + f);
            assertEquals(-f, c.params()[(int) (bi + j)], "b_i = -b_f");
            assertEquals(0f, c.params()[(int) (bh + h + j)], "bias_hh of f is 0");
            assertEquals(0f, c.params()[(int) (bh + j)], "bias_hh of i is 0");
        }
        Run tanh = train(dir.resolve("t.safetensors"), "--init", "chrono", "--steps", "0");
        assertEquals(2, tanh.exit());
        assertTrue(tanh.err().contains("--cell lstm or gru"), tanh.err());
    }

    @Test
    void benchJsonNamesTheCell() {
        Run r = run("bench", "--backend", "cpu-ref", "--cell", "gru", "--batch", "2", "--seq-len", "3", "--hidden", "4",
                "--vocab", "5", "--warmup", "0", "--repeats", "1", "--json");
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().contains("\"cell\":\"gru\""), r.out());
    }
}
