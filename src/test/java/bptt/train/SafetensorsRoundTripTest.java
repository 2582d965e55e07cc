// SafetensorsRoundTripTest: write then read, raw tensors and full checkpoints, and mismatched-model errors.
package bptt.train;

import bptt.rnn.ParameterLayout;
import bptt.rnn.RnnConfig;
import bptt.train.SafetensorsFile.Contents;
import bptt.train.SafetensorsFile.TensorData;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SafetensorsRoundTripTest {
    @TempDir
    Path dir;

    static float[] random(int n, long seed) {
        Random r = new Random(seed);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) r.nextGaussian();
        }
        return v;
    }

    @Test
    void aSuccessfulSaveRemovesTemporariesAKilledWriterLeftBehind(@TempDir Path dir) throws IOException {
        Path target = dir.resolve("model.safetensors");
        Path stale = Files.writeString(dir.resolve(".model.safetensors.1f2e3d.tmp"), "half a checkpoint");
        Path other = Files.writeString(dir.resolve(".other.safetensors.1f2e3d.tmp"), "another target's");
        Map<String, TensorData> tensors = new LinkedHashMap<>();
        tensors.put("w", TensorData.vector(new float[]{1, 2, 3}));
        SafetensorsFile.write(target, tensors, Map.of());
        assertFalse(Files.exists(stale), "the stale temporary of this target is gone");
        assertTrue(Files.exists(other), "temporaries of other targets are left alone");
        assertArrayEquals(new float[]{1, 2, 3}, SafetensorsFile.read(target).tensors().get("w").values());
    }

    @Test
    void rawTensorsAndMetadataRoundTrip() {
        Map<String, TensorData> tensors = new LinkedHashMap<>();
        tensors.put("z.big", TensorData.vector(random(300_000, 1))); // more than one 1 MiB chunk
        tensors.put("a.matrix", new TensorData(new int[]{3, 7}, random(21, 2)));
        tensors.put("scalar", new TensorData(new int[]{}, new float[]{Float.NaN}));
        tensors.put("empty", new TensorData(new int[]{0, 4}, new float[0]));
        tensors.put("special", TensorData.vector(new float[]{-0f, Float.POSITIVE_INFINITY, Float.MIN_VALUE}));
        Map<String, String> metadata = new LinkedHashMap<>();
        metadata.put("note", "ünïcödé \"quoted\" <tag> \n\u2028 𝄞");
        metadata.put("empty", "");
        Path file = dir.resolve("raw.safetensors");
        SafetensorsFile.write(file, tensors, metadata);

        Contents back = SafetensorsFile.read(file);
        assertEquals(new ArrayList<>(tensors.keySet()), new ArrayList<>(back.tensors().keySet()), "order kept");
        for (String name : tensors.keySet()) {
            assertArrayEquals(tensors.get(name).shape(), back.tensors().get(name).shape(), name);
            assertArrayEquals(tensors.get(name).values(), back.tensors().get(name).values(), name);
        }
        assertEquals(metadata, back.metadata());
    }

    @Test
    void overwritingReplacesTheFileAndLeavesNoTemporaryFiles() throws IOException {
        Path file = dir.resolve("over.safetensors");
        SafetensorsFile.write(file, Map.of("a", TensorData.vector(random(10, 3))), Map.of("v", "1"));
        SafetensorsFile.write(file, Map.of("b", TensorData.vector(random(5, 4))), Map.of("v", "2"));
        Contents back = SafetensorsFile.read(file);
        assertEquals(List.of("b"), new ArrayList<>(back.tensors().keySet()));
        assertEquals("2", back.metadata().get("v"));
        try (Stream<Path> files = Files.list(dir)) {
            assertEquals(List.of(file), files.toList());
        }
    }

    @Test
    void failedSaveRemovesItsTemporaryFileAndSaysWhy() throws IOException {
        Path target = dir.resolve("busy.safetensors");
        Files.createDirectories(target.resolve("child")); // a non-empty directory cannot be renamed over
        CheckpointException e = assertThrows(CheckpointException.class,
                () -> SafetensorsFile.write(target, Map.of("a", TensorData.vector(new float[3])), Map.of()));
        assertTrue(e.getMessage().contains(target.toString()), e.getMessage());
        try (Stream<Path> files = Files.list(dir)) {
            assertEquals(List.of(target), files.toList(), "no temporary file left");
        }
        Path missingDir = dir.resolve("no/such/dir/x.safetensors");
        CheckpointException e2 = assertThrows(CheckpointException.class,
                () -> SafetensorsFile.write(missingDir, Map.of("a", TensorData.vector(new float[3])), Map.of()));
        assertTrue(e2.getMessage().contains("directory exists"), e2.getMessage());
    }

    @Test
    void badTensorDataIsRejectedBeforeWriting() {
        assertThrows(IllegalArgumentException.class, () -> new TensorData(new int[]{2, 3}, new float[5]));
        assertThrows(IllegalArgumentException.class, () -> new TensorData(new int[]{-1}, new float[0]));
        Path file = dir.resolve("never.safetensors");
        assertThrows(IllegalArgumentException.class,
                () -> SafetensorsFile.write(file, Map.of("__metadata__", TensorData.vector(new float[1])), Map.of()));
        assertFalse(Files.exists(file));
    }

    static Checkpoint sample(RnnConfig config, int[] vocab) {
        long total = new ParameterLayout(config).total();
        Map<String, TensorData> extras = new LinkedHashMap<>();
        extras.put("optim.m", TensorData.vector(random((int) total, 7)));
        extras.put("optim.v", TensorData.vector(random((int) total, 8)));
        extras.put("state.h", new TensorData(new int[]{config.layers(), 4, config.hidden()},
                random(config.layers() * 4 * config.hidden(), 9)));
        Map<String, String> metadata = new LinkedHashMap<>();
        metadata.put("step", "1234");
        metadata.put("data_position", "{\"epoch\":2,\"batch\":17}");
        metadata.put("rng", "-8736512345");
        return new Checkpoint(config, vocab, random((int) total, 10), extras, metadata);
    }

    @Test
    void checkpointRoundTripsWithTwoLayers() {
        RnnConfig config = RnnConfig.charModel(6, 5, 2);
        int[] vocab = {'\n', ' ', 'A', 'z', 'é', 0x1D11E};
        Checkpoint saved = sample(config, vocab);
        Path file = dir.resolve("two.safetensors");
        CheckpointIo.save(file, saved);

        Checkpoint loaded = CheckpointIo.load(file, config);
        assertEquals(config, loaded.config());
        assertArrayEquals(vocab, loaded.vocab());
        assertArrayEquals(saved.params(), loaded.params());
        assertEquals(saved.metadata(), loaded.metadata());
        assertEquals(new ArrayList<>(saved.extras().keySet()), new ArrayList<>(loaded.extras().keySet()));
        long total = new ParameterLayout(config).total();
        assertArrayEquals(saved.extras().get("optim.m").values(), loaded.extra("optim.m", (int) total));
        assertArrayEquals(saved.extras().get("state.h").values(), loaded.extra("state.h", 2, 4, 5));
        assertEquals("1234", loaded.meta("step"));
        loaded.requireVocab(vocab);
        assertEquals(file, loaded.source());
    }

    @Test
    void denseInputModelWithoutVocabularyRoundTrips() {
        RnnConfig config = new RnnConfig(3, false, 4, 1, 2);
        Checkpoint saved = new Checkpoint(config, null, random((int) new ParameterLayout(config).total(), 11),
                Map.of(), Map.of());
        Path file = dir.resolve("dense.safetensors");
        CheckpointIo.save(file, saved);
        Checkpoint loaded = CheckpointIo.load(file);
        assertEquals(config, loaded.config());
        assertNull(loaded.vocab());
        assertArrayEquals(saved.params(), loaded.params());
        assertTrue(loaded.extras().isEmpty());
    }

    /** Regression and per-sequence models keep their output kind; a class per step writes no "output" key. */
    @Test
    void everyOutputKindRoundTrips() {
        for (bptt.rnn.OutputKind output : bptt.rnn.OutputKind.values()) {
            RnnConfig config = new RnnConfig(3, false, 4, 2, 2, bptt.rnn.Cell.LSTM, output);
            Path file = dir.resolve(output.id() + ".safetensors");
            CheckpointIo.save(file, new Checkpoint(config, null, random((int) new ParameterLayout(config).total(), 3),
                    Map.of(), Map.of()));
            assertEquals(config, CheckpointIo.load(file).config());
            String json = SafetensorsFile.read(file).metadata().get(CheckpointIo.CONFIG);
            assertEquals(output != bptt.rnn.OutputKind.CLASSES, json.contains("\"output\":\"" + output.id() + "\""), json);
        }
    }

    @Test
    void readingAddsBiasIhAndBiasHhAndInfersAConfigWhenThereIsNone() {
        // As PyTorch would save nn.RNN(4, 3, 1) + nn.Linear(3, 4): both biases non-zero, no config.
        RnnConfig config = RnnConfig.charModel(4, 3, 1);
        ParameterLayout layout = new ParameterLayout(config);
        float[] params = random((int) layout.total(), 12);
        Map<String, TensorData> tensors = CheckpointIo.pytorchTensors(layout, params);
        float[] hh = {0.25f, -1f, 2f};
        tensors.put("rnn.bias_hh_l0", TensorData.vector(hh));
        Path file = dir.resolve("torch.safetensors");
        SafetensorsFile.write(file, tensors, Map.of());

        Checkpoint loaded = CheckpointIo.load(file);
        assertEquals(config, loaded.config());
        ParameterLayout.Entry ba = layout.entry("ba0");
        for (int i = 0; i < 3; i++) {
            assertEquals(params[(int) ba.start() + i] + hh[i], loaded.params()[(int) ba.start() + i]);
        }
        float[] rest = loaded.params().clone();
        for (int i = 0; i < 3; i++) {
            rest[(int) ba.start() + i] = params[(int) ba.start() + i];
        }
        assertArrayEquals(params, rest, "everything but the bias unchanged");
    }

    @Test
    void mismatchedModelIsNamedInTheError() {
        RnnConfig config = RnnConfig.charModel(6, 5, 2);
        Path file = dir.resolve("m.safetensors");
        CheckpointIo.save(file, sample(config, null));

        String hidden = assertThrows(CheckpointException.class,
                () -> CheckpointIo.load(file, RnnConfig.charModel(6, 8, 2))).getMessage();
        assertTrue(hidden.contains(file.toString()) && hidden.contains("hidden_size is 5 in the checkpoint but 8 here"), hidden);
        String layers = assertThrows(CheckpointException.class,
                () -> CheckpointIo.load(file, RnnConfig.charModel(6, 5, 1))).getMessage();
        assertTrue(layers.contains("num_layers is 2 in the checkpoint but 1 here"), layers);

        Checkpoint loaded = CheckpointIo.load(file);
        String missing = assertThrows(CheckpointException.class, () -> loaded.extra("optim.cache", 10)).getMessage();
        assertTrue(missing.contains("optim.cache") && missing.contains("optim.m") && missing.contains(file.toString()), missing);
        String shape = assertThrows(CheckpointException.class, () -> loaded.extra("state.h", 2, 8, 5)).getMessage();
        assertTrue(shape.contains("state.h") && shape.contains("[2, 4, 5]") && shape.contains("[2, 8, 5]"), shape);
        String meta = assertThrows(CheckpointException.class, () -> loaded.meta("optimizer")).getMessage();
        assertTrue(meta.contains("optimizer"), meta);
        String noVocab = assertThrows(CheckpointException.class, () -> loaded.requireVocab(new int[]{'a'})).getMessage();
        assertTrue(noVocab.contains("no vocabulary"), noVocab);
    }

    @Test
    void differentVocabularyIsNamed() {
        RnnConfig config = RnnConfig.charModel(3, 2, 1);
        Path file = dir.resolve("v.safetensors");
        CheckpointIo.save(file, sample(config, new int[]{'a', 'b', 'c'}));
        Checkpoint loaded = CheckpointIo.load(file);
        String msg = assertThrows(CheckpointException.class, () -> loaded.requireVocab(new int[]{'a', 'x', 'c'})).getMessage();
        assertTrue(msg.contains("token 1") && msg.contains("'b'") && msg.contains("'x'"), msg);
        String len = assertThrows(CheckpointException.class, () -> loaded.requireVocab(new int[]{'a', 'b'})).getMessage();
        assertTrue(len.contains("3 characters") && len.contains("2"), len);
    }

    @Test
    void tensorsThatDoNotFitTheConfigAreNamed() {
        RnnConfig config = RnnConfig.charModel(4, 3, 2);
        ParameterLayout layout = new ParameterLayout(config);
        Map<String, String> meta = Map.of("config", CheckpointIo.configJson(config));

        Map<String, TensorData> noLayer1 = CheckpointIo.pytorchTensors(layout, new float[(int) layout.total()]);
        noLayer1.remove("rnn.weight_hh_l1");
        Path a = dir.resolve("a.safetensors");
        SafetensorsFile.write(a, noLayer1, meta);
        String missing = assertThrows(CheckpointException.class, () -> CheckpointIo.load(a)).getMessage();
        assertTrue(missing.contains("no tensor \"rnn.weight_hh_l1\" of shape [3, 3]") && missing.contains(a.toString()), missing);

        Map<String, TensorData> wrongShape = CheckpointIo.pytorchTensors(layout, new float[(int) layout.total()]);
        wrongShape.put("decoder.bias", new TensorData(new int[]{1, 4}, new float[4]));
        Path b = dir.resolve("b.safetensors");
        SafetensorsFile.write(b, wrongShape, meta);
        String shape = assertThrows(CheckpointException.class, () -> CheckpointIo.load(b)).getMessage();
        assertTrue(shape.contains("decoder.bias") && shape.contains("[1, 4]") && shape.contains("needs [4]"), shape);

        Path c = dir.resolve("c.safetensors");
        SafetensorsFile.write(c, CheckpointIo.pytorchTensors(layout, new float[(int) layout.total()]),
                Map.of("config", "{\"model\":\"rnn_tanh\",\"hidden_size\":\"x\"}"));
        String cfg = assertThrows(CheckpointException.class, () -> CheckpointIo.load(c)).getMessage();
        assertTrue(cfg.contains("corrupt \"config\""), cfg);

        Path d = dir.resolve("d.safetensors");
        SafetensorsFile.write(d, Map.of("x", TensorData.vector(new float[2])), Map.of());
        String none = assertThrows(CheckpointException.class, () -> CheckpointIo.load(d)).getMessage();
        assertTrue(none.contains("no \"config\" metadata"), none);

        Path e = dir.resolve("e.safetensors");
        SafetensorsFile.write(e, CheckpointIo.pytorchTensors(layout, new float[(int) layout.total()]),
                Map.of("config", CheckpointIo.configJson(config), "vocab", "[\"ab\"]"));
        String vocab = assertThrows(CheckpointException.class, () -> CheckpointIo.load(e)).getMessage();
        assertTrue(vocab.contains("corrupt \"vocab\""), vocab);
    }
}
