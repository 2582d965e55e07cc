// FaultInjectionTest: every bad input and fault of issue 12, tried through the real command line; README "Reliability" lists them.
package bptt.faults;

import bptt.train.Checkpoint;
import bptt.train.CheckpointIo;
import bptt.train.SafetensorsFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Each test is one fault a user can cause, run as the user would (Main.execute, or a child JVM
 * for file-size limits and working directories; signals are InterruptTest's), and checks the outcome the README's
 * reliability section promises: nothing the user has is destroyed, nothing trained is lost
 * silently, and bad input gets one line "error: …" with exit code 2.
 */
class FaultInjectionTest {
    private static final String TEXT = "the quick brown fox jumps over the lazy dog. pack my box with five dozen jugs.\n";

    @TempDir
    Path dir;

    private Path text() throws IOException {
        Path t = dir.resolve("t.txt");
        if (!Files.exists(t)) {
            Files.writeString(t, TEXT.repeat(20));
        }
        return t;
    }

    /** A small, fast training run on cpu-ref with {@code extra} flags after the defaults. */
    private Cli train(String... extra) throws IOException {
        Map<String, String> flags = new LinkedHashMap<>();
        for (String[] kv : new String[][]{{"--backend", "cpu-ref"}, {"--data", text().toString()}, {"--hidden", "8"},
                {"--batch", "2"}, {"--seq-len", "8"}, {"--steps", "4"}, {"--eval-every", "0"},
                {"--save", dir.resolve("default.safetensors").toString()}}) {
            flags.put(kv[0], kv[1]);
        }
        for (int i = 0; i < extra.length; i++) {
            boolean hasValue = i + 1 < extra.length && !extra[i + 1].startsWith("--");
            flags.put(extra[i], hasValue ? extra[++i] : null);
        }
        List<String> args = new ArrayList<>(List.of("train"));
        flags.forEach((flag, value) -> {
            args.add(flag);
            if (value != null) {
                args.add(value);
            }
        });
        return Cli.run(args.toArray(String[]::new));
    }

    private Path fifo(String name) throws Exception {
        Path p = dir.resolve(name);
        Process mk = new ProcessBuilder("mkfifo", p.toString()).inheritIO().start();
        assertEquals(0, mk.waitFor(), "mkfifo");
        return p;
    }

    private static boolean isFifo(Path p) throws IOException {
        return !Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS) && !Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)
                && Files.exists(p, LinkOption.NOFOLLOW_LINKS);
    }

    // ---- destroys data -----------------------------------------------------------------

    @Test
    void saveToAFifoIsRefusedBeforeTrainingAndTheFifoStays() throws Exception {
        Path fifo = fifo("pipe.safetensors");
        Cli r = train("--save", fifo.toString());
        assertEquals(2, r.exit(), r.toString());
        assertTrue(r.errorLine().contains("not a regular file"), r.err());
        assertFalse(r.out().contains("step "), "refused before training:\n" + r.out());
        assertTrue(isFifo(fifo), "the FIFO is still a FIFO");
    }

    @Test
    void saveToASocketOrADirectoryIsRefused() throws Exception {
        Path socket = dir.resolve("s.safetensors");
        try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            server.bind(UnixDomainSocketAddress.of(socket));
            Cli r = train("--save", socket.toString());
            assertEquals(2, r.exit(), r.toString());
            assertTrue(r.errorLine().contains("not a regular file"), r.err());
            assertTrue(isFifo(socket), "the socket is still there, not replaced by a file");
        }
        Path directory = Files.createDirectories(dir.resolve("d.safetensors"));
        Cli r = train("--save", directory.toString());
        assertEquals(2, r.exit(), r.toString());
        assertTrue(r.errorLine().contains("is a directory"), r.err());
    }

    @Test
    void logAndLossCurveToAFifoAreRefused() throws Exception {
        Path logFifo = fifo("log.jsonl");
        Cli r = train("--save", dir.resolve("a.safetensors").toString(), "--log", logFifo.toString());
        assertEquals(2, r.exit(), r.toString());
        assertTrue(r.errorLine().contains("--log") && r.err().contains("not a regular file"), r.err());
        fifo("b.loss.svg");
        r = train("--save", dir.resolve("b.safetensors").toString());
        assertEquals(2, r.exit(), r.toString());
        assertTrue(r.errorLine().contains("loss curve") && r.err().contains("not a regular file"), r.err());
        assertTrue(isFifo(dir.resolve("b.loss.svg")) && isFifo(logFifo));
    }

    @Test
    void aSymlinkedSaveIsFollowedNeverReplaced() throws Exception {
        Path real = Files.createDirectories(dir.resolve("store")).resolve("model.safetensors");
        Path link = Files.createSymbolicLink(dir.resolve("link.safetensors"), real);
        Cli r = train("--save", link.toString());
        assertEquals(0, r.exit(), r.toString());
        assertTrue(Files.isSymbolicLink(link), "the link is still a link");
        assertEquals(4, Integer.parseInt(CheckpointIo.load(real).metadata().get("step")), "the checkpoint is its target");
    }

    // ---- loses a run -------------------------------------------------------------------

    @Test
    void anUnwritableSaveFailsAtTheStartNotAfterTraining() throws Exception {
        Path file = Files.writeString(dir.resolve("plain.txt"), "x");
        for (String bad : new String[]{file.resolve("m.safetensors").toString(), "/proc/bptt-test/m.safetensors", ""}) {
            Cli r = train("--save", bad, "--steps", "1000000");
            assertEquals(2, r.exit(), bad + ": " + r);
            assertFalse(r.out().contains("step "), "refused before training:\n" + r.out());
            r.errorLine();
        }
    }

    @Test
    void divergenceNeverSavesWeightsThatOverflow() throws Exception {
        Path save = dir.resolve("d.safetensors");
        Cli r = train("--optimizer", "sgd", "--lr", "1e36", "--save-every", "2", "--steps", "20", "--save", save.toString());
        assertEquals(1, r.exit(), r.toString());
        assertTrue(r.errorLine().contains("diverged") && r.err().contains("no checkpoint was saved"), r.err());
        assertFalse(Files.exists(save), "weights that evaluate to Infinity are never written");
    }

    @Test
    void aResumedRunThatDivergesNamesTheCheckpointItResumedFromWhichEvaluatesFinite() throws Exception {
        Path good = dir.resolve("good.safetensors");
        assertEquals(0, train("--save", good.toString()).exit());
        byte[] before = Files.readAllBytes(good);
        Cli r = Cli.run("train", "--resume", good.toString(), "--lr", "1e30", "--steps", "40");
        assertEquals(1, r.exit(), r.toString());
        assertTrue(r.errorLine().contains("the last good checkpoint " + good + " (step 4) is intact"), r.err());
        assertArrayEquals(before, Files.readAllBytes(good), "the named checkpoint is untouched");
        Cli eval = Cli.run("eval", "--backend", "cpu-ref", "--checkpoint", good.toString(), "--data", text().toString(), "--json");
        assertEquals(0, eval.exit(), eval.toString());
        Matcher loss = Pattern.compile("\"loss\": ([-0-9.eE+]+|NaN|Infinity)").matcher(eval.out());
        assertTrue(loss.find() && Double.isFinite(Double.parseDouble(loss.group(1))), eval.out());
    }

    @Test
    void aFailedSaveNamesTheIntactCheckpointAndWhatToDo() throws Exception {
        Path good = dir.resolve("a.safetensors");
        assertEquals(0, train("--save", good.toString()).exit());
        byte[] before = Files.readAllBytes(good);
        long limitKiB = before.length / 1024 - 1;  // the next save cannot fit: as a full disk, the write fails
        List<String> command = new ArrayList<>(List.of("bash", "-c", "ulimit -f " + limitKiB + " && exec \"$@\"", "bash"));
        command.addAll(Cli.childCommand("train", "--resume", good.toString(), "--steps", "8"));
        Cli r = Cli.child(dir, command);
        assertEquals(2, r.exit(), r.toString());
        assertTrue(r.errorLine().contains("the checkpoint " + good + " (step 4) is intact")
                && r.err().contains("--resume " + good), r.err());
        assertArrayEquals(before, Files.readAllBytes(good), "the previous checkpoint is kept");
    }

    // ---- crashes, hangs, silent acceptance ---------------------------------------------

    @Test
    void absurdSizesAnswerAtOnceSayingWhatFits() {
        assertTimeoutPreemptively(Duration.ofSeconds(10), () -> {
            Cli r = train("--layers", "2000000000");
            assertEquals(2, r.exit(), r.toString());
            assertTrue(r.errorLine().contains("--layers") && r.err().contains("or less fits"), r.err());
            r = train("--hidden", "2000000000");
            assertEquals(2, r.exit(), r.toString());
            assertTrue(r.errorLine().contains("--hidden") && r.err().contains("or less fits"), r.err());
            r = train("--layers", "100000", "--hidden", "128");
            assertEquals(2, r.exit(), r.toString());
            assertTrue(r.errorLine().contains("or less fits"), r.err());
            r = Cli.run("bench", "--backend", "cpu-ref", "--hidden", "300000");
            assertEquals(2, r.exit(), r.toString());
            assertTrue(r.errorLine().contains("or less fits"), r.err());
        });
    }

    @Test
    void aDeviceThatDoesNotExistIsRefused() throws Exception {
        Cli r = train("--device", "-5");
        assertEquals(2, r.exit(), r.toString());
        assertTrue(r.errorLine().contains("--device"), r.err());
        r = train("--device", "3");
        assertEquals(2, r.exit(), r.toString());
        assertTrue(r.errorLine().contains("cpu-ref has 1 device"), r.err());
    }

    @Test
    void sampleStreamsExactlyLengthCharactersAndStopsOnAClosedPipe() throws Exception {
        Path ckpt = dir.resolve("s.safetensors");
        assertEquals(0, train("--save", ckpt.toString()).exit());
        Cli r = Cli.run("sample", "--backend", "cpu-ref", "--checkpoint", ckpt.toString(), "--length", "37");
        assertEquals(0, r.exit(), r.toString());
        assertEquals(37 + 1, r.out().codePointCount(0, r.out().length()), "37 characters and the final newline");
        r = Cli.run("sample", "--backend", "cpu-ref", "--checkpoint", ckpt.toString(), "--length", "5", "--prime", "the ");
        assertTrue(r.out().startsWith("the ") && r.out().length() == 4 + 5 + 1, r.out());
        OutputStream closedAfter2000 = new OutputStream() {
            private int written;

            @Override
            public void write(int b) throws IOException {
                if (++written > 2000) {
                    throw new IOException("Broken pipe");
                }
            }
        };
        assertTimeoutPreemptively(Duration.ofSeconds(60), () -> {
            Cli streamed = Cli.runWithStdout(closedAfter2000, "sample", "--backend", "cpu-ref", "--checkpoint",
                    ckpt.toString(), "--length", "2147483647");
            assertEquals(0, streamed.exit(), streamed.toString());
        });
    }

    @Test
    void anUnknownTaskIsNamedBeforeTheDataFlag() throws Exception {
        Cli r = Cli.run("train", "--task", "foo", "--data", text().toString());
        assertEquals(2, r.exit(), r.toString());
        assertTrue(r.errorLine().contains("unknown task 'foo'"), r.err());
    }

    @Test
    void aHugeButFiniteLossIsReported() throws Exception {
        Cli r = train("--lr", "1e6", "--optimizer", "sgd", "--clip", "0", "--steps", "6",
                "--save", dir.resolve("h.safetensors").toString());
        assertTrue(r.out().contains("warning: loss") && r.out().contains("training is diverging"), r.toString());
    }

    // ---- silent corruption -------------------------------------------------------------

    @Test
    void flippedBytesInTensorDataAreDetectedOnLoad() throws Exception {
        Path ckpt = dir.resolve("c.safetensors");
        assertEquals(0, train("--save", ckpt.toString()).exit());
        long headerLength;
        try (FileChannel ch = FileChannel.open(ckpt, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            ByteBuffer n = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            ch.read(n, 0);
            headerLength = n.flip().getLong();
            ByteBuffer b = ByteBuffer.allocate(1);
            long at = 8 + headerLength + 9;  // a byte inside rnn.weight_ih_l0, the first tensor
            ch.read(b, at);
            b.put(0, (byte) (b.get(0) ^ 0x10)).rewind();
            ch.write(b, at);
        }
        Cli r = Cli.run("eval", "--backend", "cpu-ref", "--checkpoint", ckpt.toString(), "--data", text().toString());
        assertEquals(2, r.exit(), r.toString());
        assertTrue(r.errorLine().contains("rnn.weight_ih_l0") && r.err().contains("checksum"), r.err());
    }

    @Test
    void aNonFiniteWeightInACheckpointIsReportedOnLoad() throws Exception {
        Path ckpt = dir.resolve("n.safetensors");
        assertEquals(0, train("--save", ckpt.toString()).exit());
        Checkpoint c = CheckpointIo.load(ckpt);
        float[] params = c.params().clone();
        params[3] = Float.NaN;
        CheckpointIo.save(ckpt, new Checkpoint(c.config(), c.vocab(), params, c.extras(), c.metadata()));
        Cli r = Cli.run("sample", "--backend", "cpu-ref", "--checkpoint", ckpt.toString());
        assertEquals(2, r.exit(), r.toString());
        assertTrue(r.errorLine().contains("non-finite") && r.err().contains("is NaN"), r.err());
    }

    @Test
    void vocabMetadataThatIsNotJsonIsOneLineWithoutTheJsonLibrarysWords() throws Exception {
        Path ckpt = dir.resolve("v.safetensors");
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("vocab", "not json [");
        Checkpoint c = new Checkpoint(bptt.rnn.RnnConfig.charModel(3, 2, 1), null, new float[(int)
                new bptt.rnn.ParameterLayout(bptt.rnn.RnnConfig.charModel(3, 2, 1)).total()], Map.of(), Map.of());
        Map<String, SafetensorsFile.TensorData> tensors = CheckpointIo.pytorchTensors(
                new bptt.rnn.ParameterLayout(c.config()), c.params());
        meta.put("config", CheckpointIo.configJson(c.config()));
        SafetensorsFile.write(ckpt, tensors, meta);
        Cli r = Cli.run("sample", "--backend", "cpu-ref", "--checkpoint", ckpt.toString());
        assertEquals(2, r.exit(), r.toString());
        String line = r.errorLine();
        assertTrue(line.contains("corrupt \"vocab\" metadata") && !line.contains("gson") && !line.contains("http")
                && !line.contains("Exception"), line);
    }

    // ---- resume and eval ---------------------------------------------------------------

    @Test
    void resumeRestoresEverySettingAndWorksFromAnotherDirectory() throws Exception {
        Path run = Files.createDirectories(dir.resolve("run"));
        Files.writeString(run.resolve("t.txt"), TEXT.repeat(20));
        Cli first = Cli.child(run, Cli.childCommand("train", "--backend", "cpu-ref", "--data", "t.txt", "--hidden", "8",
                "--batch", "2", "--seq-len", "8", "--steps", "4", "--checkpoint-every", "3", "--eval-every", "5",
                "--save-every", "6", "--sample-every", "7", "--log", "log.jsonl", "--save", "m.safetensors"));
        assertEquals(0, first.exit(), first.toString());
        Path elsewhere = Files.createDirectories(dir.resolve("elsewhere"));
        Cli resumed = Cli.child(elsewhere, Cli.childCommand("train", "--resume", run.resolve("m.safetensors").toString(),
                "--steps", "12"));
        assertEquals(0, resumed.exit(), resumed.toString());
        assertTrue(resumed.out().contains("checkpoint-every 3"), resumed.out());
        assertTrue(resumed.out().contains("step 10: validation loss"), "--eval-every 5 restored:\n" + resumed.out());
        assertTrue(resumed.out().contains("---- sample at step 7 ----"), "--sample-every 7 restored:\n" + resumed.out());
        List<String> log = Files.readAllLines(run.resolve("log.jsonl"));
        assertTrue(log.stream().anyMatch(l -> l.startsWith("{\"step\":12,")), "--log restored and appended: " + log);
        assertTrue(log.stream().anyMatch(l -> l.startsWith("{\"step\":1,")), "appended, not truncated: " + log);
        JsonCheck.savedSetting(run.resolve("m.safetensors"), "save_every", "6");
    }

    @Test
    void evalScoresEveryCharacterOfTheFile() throws Exception {
        Path ckpt = dir.resolve("e.safetensors");
        assertEquals(0, train("--save", ckpt.toString()).exit());
        Path small = Files.writeString(dir.resolve("small.txt"), TEXT.substring(0, 60) + TEXT.substring(0, 45));
        assertEquals(105, Files.readString(small).length());
        for (String batch : new String[]{"16", "1000", "1"}) {
            Cli r = Cli.run("eval", "--backend", "cpu-ref", "--checkpoint", ckpt.toString(), "--data", small.toString(),
                    "--batch", batch, "--json");
            assertEquals(0, r.exit(), r.toString());
            assertTrue(r.out().contains("\"tokens\": 104"), "--batch " + batch + ": " + r.out());
        }
        Path empty = Files.createFile(dir.resolve("empty.txt"));
        Cli r = Cli.run("eval", "--backend", "cpu-ref", "--checkpoint", ckpt.toString(), "--data", empty.toString());
        assertTrue(r.exit() == 2 && r.errorLine().contains("is empty") && !r.err().contains("learn"), r.toString());
        Path one = Files.writeString(dir.resolve("one.txt"), "t");
        r = Cli.run("eval", "--backend", "cpu-ref", "--checkpoint", ckpt.toString(), "--data", one.toString());
        assertTrue(r.exit() == 2 && r.errorLine().contains("at least 2"), r.toString());
    }

    @Test
    void crlfAndTooLittleTextAreExplained() throws Exception {
        Path crlf = Files.writeString(dir.resolve("crlf.txt"), "line one\r\nline two\r\n".repeat(30));
        Cli r = Cli.run("train", "--backend", "cpu-ref", "--data", crlf.toString(), "--hidden", "4", "--batch", "2",
                "--seq-len", "4", "--steps", "1", "--save", dir.resolve("x.safetensors").toString());
        assertEquals(0, r.exit(), r.toString());
        assertTrue(r.out().contains("Windows line endings"), r.out());
        Path one = Files.writeString(dir.resolve("one.txt"), "a");
        r = Cli.run("train", "--backend", "cpu-ref", "--data", one.toString(), "--batch", "1");
        assertEquals(2, r.exit(), r.toString());
        assertTrue(r.errorLine().contains("1 training character") && r.err().contains("at least 2"), r.err());
        r = Cli.run("train", "--backend", "cpu-ref", "--data", text().toString(), "--val-fraction", "0", "--batch", "5000");
        assertTrue(r.exit() == 2 && r.errorLine().contains("use --batch " + TEXT.length() * 20 / 2 + " or less"), r.toString());
    }

    // ---- friction ----------------------------------------------------------------------

    @Test
    void helpResumeHintAndDefaultCheckpointsWorkAsTheReadmeSays() throws Exception {
        Cli help = Cli.run("--help");
        assertTrue(help.out().replaceAll("\\s+", " ").contains(" eval Scores a checkpoint: mean cross-entropy and bits per"
                + " character over a whole text file. sample"), "eval's summary is a whole sentence:\n" + help.out());
        Path home = Files.createDirectories(dir.resolve("home"));
        Files.writeString(home.resolve("t.txt"), TEXT.repeat(20));
        Cli none = Cli.child(home, Cli.childCommand("sample", "--backend", "cpu-ref"));
        assertTrue(none.exit() == 2 && none.errorLine().contains("scripts/bptt train"), none.toString());
        Cli trained = Cli.child(home, Cli.childCommand("train", "--backend", "cpu-ref", "--data", "t.txt", "--hidden", "8",
                "--batch", "2", "--seq-len", "8", "--steps", "2"));
        assertEquals(0, trained.exit(), trained.toString());
        assertTrue(trained.out().contains("(resume: scripts/bptt train --resume runs/model.safetensors)"), trained.out());
        Cli sampled = Cli.child(home, Cli.childCommand("sample", "--backend", "cpu-ref", "--length", "10"));
        assertEquals(0, sampled.exit(), sampled.toString());
        Cli scored = Cli.child(home, Cli.childCommand("eval", "--backend", "cpu-ref", "--data", "t.txt"));
        assertEquals(0, scored.exit(), scored.toString());
        assertFalse((help.err() + trained.err() + sampled.err() + scored.err()).contains("\u001b"), "no escape codes off a terminal");
    }

    @Test
    void anotherModelDoesNotSilentlyReplaceACheckpoint() throws Exception {
        Path ckpt = dir.resolve("m.safetensors");
        assertEquals(0, train("--save", ckpt.toString()).exit());
        byte[] kept = Files.readAllBytes(ckpt);
        Cli r = train("--save", ckpt.toString(), "--hidden", "12");
        assertEquals(2, r.exit(), r.toString());
        assertTrue(r.errorLine().contains("holds another model") && r.err().contains("--force"), r.err());
        assertArrayEquals(kept, Files.readAllBytes(ckpt));
        Path other = Files.writeString(dir.resolve("o.txt"), TEXT.replace('.', ',').repeat(20));  // 29 characters again, one of them new
        r = Cli.run("train", "--backend", "cpu-ref", "--data", other.toString(), "--hidden", "8", "--batch", "2",
                "--seq-len", "8", "--steps", "1", "--save", ckpt.toString());
        assertTrue(r.exit() == 2 && r.errorLine().contains("another vocabulary"), r.toString());
        r = train("--save", text().toString());
        assertTrue(r.exit() == 2 && r.errorLine().contains("--data file"), r.toString());
        assertEquals(TEXT.repeat(20), Files.readString(text()), "the data is never overwritten");
        assertEquals(0, train("--save", ckpt.toString(), "--hidden", "12", "--force").exit(), "--force overwrites");
        assertEquals(12, CheckpointIo.load(ckpt).config().hidden());
    }

    @Test
    void initFromTakesTheCheckpointsShape() throws Exception {
        Path ckpt = dir.resolve("i.safetensors");
        assertEquals(0, train("--save", ckpt.toString(), "--hidden", "6", "--layers", "2").exit());
        Cli r = Cli.run("train", "--backend", "cpu-ref", "--data", text().toString(), "--init-from", ckpt.toString(),
                "--batch", "2", "--seq-len", "8", "--steps", "1", "--save", dir.resolve("j.safetensors").toString());
        assertEquals(0, r.exit(), r.toString());
        assertTrue(r.out().contains("model: 2 layer(s) × 6 hidden"), r.out());
    }

    /** Reads a checkpoint's "train" metadata. */
    private static final class JsonCheck {
        static void savedSetting(Path ckpt, String key, String value) {
            String train = CheckpointIo.load(ckpt).metadata().get("train");
            assertTrue(train.contains("\"" + key + "\":" + value), key + " in " + train);
            assertTrue(Arrays.stream(train.split(",")).anyMatch(f -> f.startsWith("\"data\":\"/")), "data stored absolute: " + train);
        }
    }
}
