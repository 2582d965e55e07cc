// SafetensorsCorruptTest: truncated, garbage and inconsistent files each give a CheckpointException that says why.
package bptt.train;

import bptt.rnn.RnnConfig;
import bptt.train.SafetensorsFile.TensorData;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SafetensorsCorruptTest {
    @TempDir
    Path dir;

    /** Reads {@code file} expecting a CheckpointException whose message names the file and every hint. */
    static String fails(Path file, String... hints) {
        CheckpointException e = assertThrows(CheckpointException.class, () -> SafetensorsFile.read(file));
        String m = e.getMessage();
        assertTrue(m.contains(file.toString()), "names the file: " + m);
        for (String hint : hints) {
            assertTrue(m.contains(hint), "mentions \"" + hint + "\": " + m);
        }
        return m;
    }

    /** A file with exactly this header text (padded to 8) and data bytes. */
    Path craft(String name, String header, byte[] data) throws IOException {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        int n = (h.length + 7) / 8 * 8;
        ByteBuffer b = ByteBuffer.allocate(8 + n + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(n).put(h);
        for (int i = h.length; i < n; i++) {
            b.put((byte) ' ');
        }
        b.put(data);
        Path file = dir.resolve(name);
        Files.write(file, b.array());
        return file;
    }

    private static String tensor(String name, String dtype, String shape, long begin, long end) {
        return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape + ",\"data_offsets\":[" + begin + "," + end + "]}";
    }

    static Stream<Arguments> cuts() {
        return Stream.of(
                Arguments.of(0, "too short"), Arguments.of(3, "too short"), Arguments.of(7, "too short"),
                Arguments.of(8, "truncated"), Arguments.of(9, "truncated"), Arguments.of(100, "truncated"),
                Arguments.of(-1, "truncated"), Arguments.of(-4, "truncated"), Arguments.of(-5, "truncated"),
                Arguments.of(-1000, "truncated"), Arguments.of(-1, "ends at data byte"));
    }

    /** Cuts a real checkpoint at {@code cut} bytes (negative: from the end). */
    @ParameterizedTest
    @MethodSource("cuts")
    void truncatedCheckpoint(int cut, String hint) throws IOException {
        Path whole = dir.resolve("whole.safetensors");
        RnnConfig config = RnnConfig.charModel(20, 16, 2);
        CheckpointIo.save(whole, new Checkpoint(config, null,
                new float[(int) new bptt.rnn.ParameterLayout(config).total()], Map.of(), Map.of("step", "1")));
        byte[] bytes = Files.readAllBytes(whole);
        Path file = dir.resolve("cut.safetensors");
        Files.write(file, Arrays.copyOf(bytes, cut >= 0 ? cut : bytes.length + cut));
        fails(file, hint);
        assertThrows(CheckpointException.class, () -> CheckpointIo.load(file));
    }

    @Test
    void everyCutPointOfASmallFileFailsCleanly() throws IOException {
        Path whole = dir.resolve("small.safetensors");
        Map<String, TensorData> t = new LinkedHashMap<>();
        t.put("a", new TensorData(new int[]{2, 3}, new float[6]));
        t.put("b", TensorData.vector(new float[]{1, 2}));
        SafetensorsFile.write(whole, t, Map.of("k", "v"));
        byte[] bytes = Files.readAllBytes(whole);
        Path file = dir.resolve("cut.safetensors");
        for (int cut = 0; cut < bytes.length; cut++) {
            Files.write(file, Arrays.copyOf(bytes, cut));
            String m = fails(file);
            assertTrue(m.contains("truncated") || m.contains("too short") || m.contains("corrupt"), cut + ": " + m);
        }
    }

    @Test
    void textFileIsNotASafetensorsFile() throws IOException {
        Path file = dir.resolve("notes.txt");
        Files.writeString(file, "First Citizen:\nBefore we proceed any further, hear me speak.\n");
        fails(file, "not a safetensors file", "header length");
    }

    @ParameterizedTest
    @ValueSource(longs = {0, 1, -1, Long.MIN_VALUE, 100_000_001L})
    void absurdHeaderLength(long n) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(64).order(ByteOrder.LITTLE_ENDIAN).putLong(n);
        Path file = dir.resolve("absurd.safetensors");
        Files.write(file, b.array());
        fails(file, "not a safetensors file", Long.toString(n));
    }

    @Test
    void headerLongerThanTheFile() throws IOException {
        ByteBuffer b = ByteBuffer.allocate(40).order(ByteOrder.LITTLE_ENDIAN).putLong(4096).put("{\"a\":".getBytes());
        Path file = dir.resolve("short.safetensors");
        Files.write(file, b.array());
        fails(file, "truncated", "4096", "32");
    }

    @Test
    void garbageHeader() throws IOException {
        byte[] junk = new byte[64];
        new java.util.Random(5).nextBytes(junk);
        ByteBuffer b = ByteBuffer.allocate(8 + 64).order(ByteOrder.LITTLE_ENDIAN).putLong(64).put(junk);
        Path file = dir.resolve("junk.safetensors");
        Files.write(file, b.array());
        fails(file, "not a safetensors file");
        fails(craft("notobject.safetensors", "[1,2,3]", new byte[0]), "not a safetensors file", "'{'");
    }

    @ParameterizedTest
    @ValueSource(strings = {
        "{\"a\":{\"dtype\":\"F32\",",
        "{\"a\":{\"dtype\":F32,\"shape\":[1],\"data_offsets\":[0,4]}}",
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}} trailing",
        "{\"a\":{\"dtype\":\"F32\",\"shape\":\"1\",\"data_offsets\":[0,4]}}",
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}",
        "{\"a\":[]}",
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},}"})
    void badJson(String header) throws IOException {
        fails(craft("bad.safetensors", header, new byte[4]), "corrupt JSON header");
    }

    @Test
    void inconsistentHeaders() throws IOException {
        byte[] eight = new byte[8];
        fails(craft("missing.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", eight), "lacks data_offsets");
        fails(craft("dup.safetensors", "{" + tensor("a", "F32", "[1]", 0, 4) + "," + tensor("a", "F32", "[1]", 4, 8) + "}",
                eight), "\"a\" appears twice");
        fails(craft("meta.safetensors", "{\"__metadata__\":{\"step\":3}," + tensor("a", "F32", "[2]", 0, 8) + "}", eight),
                "metadata \"step\" is not a string");
        fails(craft("offsets3.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4,8]}}", eight),
                "data_offsets", "[begin, end]");
        fails(craft("reversed.safetensors", "{" + tensor("a", "F32", "[0]", 8, 4) + "}", eight), "data_offsets [8, 4]");
        fails(craft("negshape.safetensors", "{" + tensor("a", "F32", "[-2]", 0, 8) + "}", eight), "shape [-2]");
    }

    @Test
    void unsupportedDtypeIsNamed() throws IOException {
        fails(craft("half.safetensors", "{" + tensor("rnn.weight_hh_l0", "F16", "[2,2]", 0, 8) + "}", new byte[8]),
                "rnn.weight_hh_l0", "dtype F16", "only F32", "float()");
        fails(craft("odd.safetensors", "{" + tensor("w", "Q4_K", "[2]", 0, 1) + "}", new byte[1]),
                "dtype Q4_K", "not a safetensors dtype");
    }

    @Test
    void offsetsOutOfRangeOverlappingOrWithGaps() throws IOException {
        fails(craft("beyond.safetensors", "{" + tensor("a", "F32", "[4]", 0, 16) + "}", new byte[8]),
                "\"a\" ends at data byte 16", "only 8 data bytes");
        fails(craft("huge.safetensors", "{" + tensor("a", "F32", "[1000000000]", 0, 4_000_000_000L) + "}", new byte[8]),
                "ends at data byte 4000000000");
        fails(craft("wide.safetensors", "{" + tensor("a", "F32", "[1000000000000]", 0, 4_000_000_000_000L) + "}", new byte[8]),
                "shape [1000000000000]");
        fails(craft("overlap.safetensors", "{" + tensor("a", "F32", "[2]", 0, 8) + "," + tensor("b", "F32", "[2]", 4, 12) + "}",
                new byte[12]), "overlaps");
        fails(craft("gap.safetensors", "{" + tensor("a", "F32", "[1]", 0, 4) + "," + tensor("b", "F32", "[1]", 8, 12) + "}",
                new byte[12]), "belong to no tensor", "[4, 8)");
        fails(craft("tail.safetensors", "{" + tensor("a", "F32", "[1]", 0, 4) + "}", new byte[12]), "8 bytes after the last");
        fails(craft("size.safetensors", "{" + tensor("a", "F32", "[3]", 0, 8) + "}", new byte[8]),
                "shape [3]", "12 bytes", "span 8 bytes");
        fails(craft("overflow.safetensors", "{" + tensor("a", "F32", "[2147483647,2147483647,2147483647]", 0, 8) + "}",
                new byte[8]), "span 8 bytes");
    }

    @Test
    void missingFileAndDirectory() {
        Path missing = dir.resolve("nope.safetensors");
        fails(missing, "does not exist");
        fails(dir, "is a directory");
        Path deep = dir.resolve("no/dir/x.safetensors");
        fails(deep, "does not exist", "directory does not exist");
    }
}
