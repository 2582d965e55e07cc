// SafetensorsLayoutTest: files the engine writes, read back by an independent minimal reader in this test.
package bptt.train;

import bptt.rnn.Cell;
import bptt.rnn.RnnConfig;
import bptt.train.SafetensorsFile.TensorData;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32C;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SafetensorsLayoutTest {
    @TempDir
    Path dir;

    /** A tensor as the minimal reader sees it. */
    record Raw(String name, String dtype, List<Integer> shape, long begin, long end, float[] values) {}

    /** The minimal reader: length, JSON header, then little-endian floats sliced by hand. */
    static Map<String, Raw> readRaw(Path file, Map<String, String> metadataOut) throws IOException {
        byte[] bytes = Files.readAllBytes(file);
        ByteBuffer le = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        long n = le.getLong(0);
        assertEquals(0, n % 8, "header length is a multiple of 8");
        String header = new String(bytes, 8, (int) n, StandardCharsets.UTF_8);
        String json = header.stripTrailing();
        assertTrue(header.substring(json.length()).chars().allMatch(c -> c == ' '), "header padded with spaces");
        assertTrue(header.length() - json.length() < 8, "at most 7 padding spaces");
        JsonObject root = JsonParser.parseString(json).getAsJsonObject();
        Map<String, Raw> out = new LinkedHashMap<>();
        long expectBegin = 0;
        for (Map.Entry<String, JsonElement> e : root.entrySet()) {
            if (e.getKey().equals("__metadata__")) {
                e.getValue().getAsJsonObject().entrySet()
                        .forEach(m -> metadataOut.put(m.getKey(), m.getValue().getAsString()));
                continue;
            }
            JsonObject info = e.getValue().getAsJsonObject();
            List<Integer> shape = new ArrayList<>();
            info.getAsJsonArray("shape").forEach(d -> shape.add(d.getAsInt()));
            JsonArray offsets = info.getAsJsonArray("data_offsets");
            long begin = offsets.get(0).getAsLong();
            long end = offsets.get(1).getAsLong();
            assertEquals(expectBegin, begin, e.getKey() + " starts where the previous tensor ended");
            expectBegin = end;
            float[] values = new float[(int) ((end - begin) / 4)];
            for (int i = 0; i < values.length; i++) {
                values[i] = le.getFloat((int) (8 + n + begin + 4L * i));
            }
            out.put(e.getKey(), new Raw(e.getKey(), info.get("dtype").getAsString(), shape, begin, end, values));
        }
        assertEquals(bytes.length, 8 + n + expectBegin, "data ends exactly at the end of the file");
        return out;
    }

    @Test
    void matchesTheReferenceBytesForASmallFile() throws IOException {
        Path file = dir.resolve("small.safetensors");
        Map<String, TensorData> tensors = new LinkedHashMap<>();
        tensors.put("test", new TensorData(new int[]{2, 2}, new float[]{1f, 2f, 3f, 4f}));
        SafetensorsFile.write(file, tensors, Map.of());
        ByteBuffer data = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putFloat(1f).putFloat(2f).putFloat(3f).putFloat(4f);
        CRC32C crc = new CRC32C();
        crc.update(data.array());
        String json = "{\"__metadata__\":{\"checksums\":\"{\\\"test\\\":\\\"crc32c:" + String.format("%08x", crc.getValue())
                + "\\\"}\"},\"test\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}";
        int padded = (json.length() + 7) / 8 * 8;
        ByteBuffer expected = ByteBuffer.allocate(8 + padded + 16).order(ByteOrder.LITTLE_ENDIAN);
        expected.putLong(padded).put((json + " ".repeat(padded - json.length())).getBytes(StandardCharsets.US_ASCII));
        expected.put(data.array());
        assertArrayEquals(expected.array(), Files.readAllBytes(file));
    }

    @Test
    void checkpointHasPytorchNamesShapesAndValues() throws IOException {
        int v = 5;
        int h = 3;
        int layers = 2;
        RnnConfig config = RnnConfig.charModel(v, h, layers);
        // The slab laid out by hand (per layer: Wax (H,D), Waa (H,H), ba (H); then Wya (V,H), by (V)).
        long total = 0;
        for (int l = 0; l < layers; l++) {
            total += (long) h * (l == 0 ? v : h) + (long) h * h + h;
        }
        total += (long) v * h + v;
        float[] params = new float[(int) total];
        for (int i = 0; i < params.length; i++) {
            params[i] = i + 0.5f;
        }
        Path file = dir.resolve("model.safetensors");
        Map<String, TensorData> extras = new LinkedHashMap<>();
        extras.put("state.h", new TensorData(new int[]{layers, 2, h}, new float[layers * 2 * h]));
        CheckpointIo.save(file, new Checkpoint(config, new int[]{'\n', ' ', 'a', 'b', 'é'}, params, extras,
                Map.of("step", "42")));

        Map<String, String> metadata = new LinkedHashMap<>();
        Map<String, Raw> raw = readRaw(file, metadata);
        List<String> names = List.of(
                "rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.bias_ih_l0", "rnn.bias_hh_l0",
                "rnn.weight_ih_l1", "rnn.weight_hh_l1", "rnn.bias_ih_l1", "rnn.bias_hh_l1",
                "decoder.weight", "decoder.bias", "state.h");
        assertEquals(names, new ArrayList<>(raw.keySet()));
        List<List<Integer>> shapes = List.of(
                List.of(h, v), List.of(h, h), List.of(h), List.of(h),
                List.of(h, h), List.of(h, h), List.of(h), List.of(h),
                List.of(v, h), List.of(v), List.of(layers, 2, h));
        int at = 0;
        for (int i = 0; i < names.size(); i++) {
            Raw r = raw.get(names.get(i));
            assertEquals("F32", r.dtype(), r.name());
            assertEquals(shapes.get(i), r.shape(), r.name());
            int count = r.shape().stream().reduce(1, (a, b) -> a * b);
            assertEquals(count * 4L, r.end() - r.begin(), r.name());
            if (r.name().startsWith("rnn.bias_hh") || r.name().equals("state.h")) {
                assertArrayEquals(new float[count], r.values(), r.name() + " is zeros");
            } else {
                for (int j = 0; j < count; j++) {
                    assertEquals(at + j + 0.5f, r.values()[j], r.name() + "[" + j + "] is the slab's next value");
                }
                at += count;
            }
        }
        assertEquals(params.length, at, "every parameter written once");
        assertEquals("pt", metadata.get("format"));
        assertEquals("42", metadata.get("step"));
        assertEquals("[\"\\n\",\" \",\"a\",\"b\",\"é\"]", metadata.get("vocab"));
        JsonObject cfg = JsonParser.parseString(metadata.get("config")).getAsJsonObject();
        assertEquals(h, cfg.get("hidden_size").getAsInt());
        assertEquals(layers, cfg.get("num_layers").getAsInt());
        assertEquals(v, cfg.get("input_size").getAsInt());
        assertEquals(v, cfg.get("output_size").getAsInt());
    }

    /** LSTM and GRU: nn.LSTM's / nn.GRU's names, (G·H, ·) shapes and both biases, each the slab's next values. */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"lstm", "gru"})
    void cellCheckpointsHavePytorchNamesShapesAndBothBiases(String cellName) throws IOException {
        Cell cell = Cell.parse(cellName);
        int v = 5;
        int h = 3;
        int g = cell.gates() * h;
        RnnConfig config = RnnConfig.charModel(cell, v, h, 2);
        long total = 0;
        for (int l = 0; l < 2; l++) {
            total += (long) g * (l == 0 ? v : h) + (long) g * h + 2L * g;  // W_ih (G·H, D), W_hh (G·H, H), b_ih, b_hh
        }
        total += (long) v * h + v;
        float[] params = new float[(int) total];
        for (int i = 0; i < params.length; i++) {
            params[i] = i + 0.25f;
        }
        Path file = dir.resolve(cellName + ".safetensors");
        CheckpointIo.save(file, new Checkpoint(config, new int[]{'a', 'b', 'c', 'd', 'e'}, params, Map.of(), Map.of()));
        Map<String, String> metadata = new LinkedHashMap<>();
        Map<String, Raw> raw = readRaw(file, metadata);
        List<String> names = List.of(
                "rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.bias_ih_l0", "rnn.bias_hh_l0",
                "rnn.weight_ih_l1", "rnn.weight_hh_l1", "rnn.bias_ih_l1", "rnn.bias_hh_l1",
                "decoder.weight", "decoder.bias");
        assertEquals(names, new ArrayList<>(raw.keySet()));
        List<List<Integer>> shapes = List.of(
                List.of(g, v), List.of(g, h), List.of(g), List.of(g),
                List.of(g, h), List.of(g, h), List.of(g), List.of(g),
                List.of(v, h), List.of(v));
        int at = 0;
        for (int i = 0; i < names.size(); i++) {
            Raw r = raw.get(names.get(i));
            assertEquals(shapes.get(i), r.shape(), r.name());
            for (int j = 0; j < r.values().length; j++) {
                assertEquals(at + j + 0.25f, r.values()[j], r.name() + "[" + j + "] is the slab's next value");
            }
            at += r.values().length;
        }
        assertEquals(params.length, at, "every parameter written once, both biases included");
        assertEquals(cellName, JsonParser.parseString(metadata.get("config")).getAsJsonObject().get("model").getAsString());
        Checkpoint back = CheckpointIo.load(file);
        assertEquals(config, back.config());
        assertArrayEquals(params, back.params(), "read back bit for bit, biases kept apart");
    }

    /** A file with PyTorch's tensors only (no config metadata) is read as the cell its weight_hh shape says. */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"tanh", "lstm", "gru"})
    void theCellOfAFileWithoutConfigComesFromItsShapes(String cellName) {
        RnnConfig config = RnnConfig.charModel(Cell.parse(cellName), 6, 4, 2);
        float[] params = new float[(int) new bptt.rnn.ParameterLayout(config).total()];
        for (int i = 0; i < params.length; i++) {
            params[i] = (i % 7) * 0.125f;
        }
        Path file = dir.resolve("bare.safetensors");
        SafetensorsFile.write(file, CheckpointIo.pytorchTensors(new bptt.rnn.ParameterLayout(config), params), Map.of());
        Checkpoint back = CheckpointIo.load(file);
        assertEquals(config, back.config());
        assertArrayEquals(params, back.params());
    }
}
