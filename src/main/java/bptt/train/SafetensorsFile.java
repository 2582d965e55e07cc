// SafetensorsFile: write and read the safetensors format (F32 tensors plus string metadata).
package bptt.train;

import com.google.gson.Strictness;
import com.google.gson.stream.JsonReader;
import com.google.gson.stream.JsonToken;
import com.google.gson.stream.JsonWriter;

import java.io.IOException;
import java.io.StringReader;
import java.io.StringWriter;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.zip.CRC32C;

/**
 * The format: an 8-byte little-endian header length N, N bytes of UTF-8 JSON
 * ({@code {"__metadata__": {...}, "name": {"dtype": "F32", "shape": [...], "data_offsets": [b, e]}, ...}},
 * padded with spaces to a multiple of 8), then the little-endian tensor data, contiguous, in
 * the order given, each tensor's bytes at [8 + N + b, 8 + N + e). Writes are atomic
 * ({@link AtomicFile}); reads check everything and fail with a {@link CheckpointException}.
 */
public final class SafetensorsFile {
    /** The largest header the reference implementation accepts. */
    static final long MAX_HEADER = 100_000_000L;
    private static final String METADATA = "__metadata__";
    private static final Set<String> OTHER_DTYPES = Set.of(
            "BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "I16", "U16", "F16", "BF16", "I32", "U32", "F64", "I64", "U64");
    private static final int CHUNK = 1 << 20;
    /**
     * Metadata key of the tensors' checksums: a JSON object mapping every tensor name to
     * "crc32c:" and the CRC-32C of its data bytes in hex. Still plain safetensors (metadata are
     * strings), so PyTorch reads the file; this reader verifies it and leaves it out of the
     * metadata it returns. Files without it (written elsewhere) are read unverified.
     */
    static final String CHECKSUMS = "checksums";

    private SafetensorsFile() {}

    /** A float32 tensor: its shape (row-major) and values; shape [] is a scalar. */
    public record TensorData(int[] shape, float[] values) {
        public TensorData {
            long n = 1;
            for (int d : shape) {
                if (d < 0) {
                    throw new IllegalArgumentException("negative dimension in shape " + Arrays.toString(shape));
                }
                n *= d;
            }
            if (n != values.length) {
                throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " holds " + n
                        + " values but " + values.length + " were given");
            }
        }

        /** A 1-D tensor holding {@code values}. */
        public static TensorData vector(float[] values) {
            return new TensorData(new int[]{values.length}, values);
        }
    }

    /** What a file holds: tensors in file order, and the {@code __metadata__} strings. */
    public record Contents(Map<String, TensorData> tensors, Map<String, String> metadata) {}

    /** Writes {@code tensors} in iteration order and {@code metadata} atomically to {@code path}. */
    public static void write(Path path, Map<String, TensorData> tensors, Map<String, String> metadata) {
        if (metadata.containsKey(CHECKSUMS)) {
            throw new IllegalArgumentException("metadata key " + CHECKSUMS + " is reserved for the tensors' checksums");
        }
        Map<String, String> withChecksums = new LinkedHashMap<>(metadata);
        withChecksums.put(CHECKSUMS, checksums(tensors));
        byte[] header = header(tensors, withChecksums);
        try {
            AtomicFile.write(path, channel -> {
                ByteBuffer buffer = ByteBuffer.allocate(CHUNK).order(ByteOrder.LITTLE_ENDIAN);
                buffer.putLong(header.length);
                flush(channel, buffer);
                writeFully(channel, ByteBuffer.wrap(header));
                for (TensorData t : tensors.values()) {
                    float[] v = t.values();
                    for (int i = 0; i < v.length; ) {
                        int n = Math.min(v.length - i, CHUNK / Float.BYTES);
                        buffer.asFloatBuffer().put(v, i, n);
                        buffer.position(n * Float.BYTES);
                        flush(channel, buffer);
                        i += n;
                    }
                }
            });
        } catch (IOException e) {
            throw new CheckpointException("cannot save " + path + ": " + OutputFile.reason(e)
                    + "; check that the directory exists, is writable and has free space", e);
        }
    }

    /** The CHECKSUMS value for {@code tensors}: the CRC-32C of exactly the bytes {@link #write} stores. */
    private static String checksums(Map<String, TensorData> tensors) {
        StringWriter text = new StringWriter();
        ByteBuffer buffer = ByteBuffer.allocate(CHUNK).order(ByteOrder.LITTLE_ENDIAN);
        try (JsonWriter json = new JsonWriter(text)) {
            json.beginObject();
            for (Map.Entry<String, TensorData> e : tensors.entrySet()) {
                CRC32C crc = new CRC32C();
                float[] v = e.getValue().values();
                for (int i = 0; i < v.length; ) {
                    int n = Math.min(v.length - i, CHUNK / Float.BYTES);
                    buffer.clear();
                    buffer.asFloatBuffer().put(v, i, n);
                    buffer.limit(n * Float.BYTES);
                    crc.update(buffer);
                    i += n;
                }
                json.name(e.getKey()).value(crcText(crc));
            }
            json.endObject();
        } catch (IOException e) {
            throw new IllegalStateException(e); // a StringWriter does not fail
        }
        return text.toString();
    }

    private static String crcText(CRC32C crc) { return String.format("crc32c:%08x", crc.getValue()); }

    /** Verifies every tensor listed in the CHECKSUMS metadata against the CRCs of the bytes read. */
    private static void verifyChecksums(Path path, String json, Map<String, String> computed) {
        Map<String, String> stored = new LinkedHashMap<>();
        try (JsonReader reader = new JsonReader(new StringReader(json))) {
            reader.beginObject();
            while (reader.hasNext()) {
                stored.put(reader.nextName(), reader.nextString());
            }
            reader.endObject();
        } catch (IOException | IllegalStateException e) {
            throw bad(path, "has corrupt \"" + CHECKSUMS + "\" metadata (not a JSON object of strings)");
        }
        for (Map.Entry<String, String> e : stored.entrySet()) {
            String actual = computed.get(e.getKey());
            if (actual == null) {
                throw bad(path, "is corrupt: its checksums list a tensor \"" + e.getKey() + "\" that the file does not hold");
            }
            if (!actual.equals(e.getValue())) {
                throw bad(path, "is corrupt: the data of tensor \"" + e.getKey() + "\" do not match their checksum ("
                        + e.getValue() + " stored, " + actual + " read)");
            }
        }
    }

    private static byte[] header(Map<String, TensorData> tensors, Map<String, String> metadata) {
        StringWriter text = new StringWriter();
        try (JsonWriter json = new JsonWriter(text)) {
            json.beginObject();
            if (!metadata.isEmpty()) {
                json.name(METADATA).beginObject();
                for (Map.Entry<String, String> e : metadata.entrySet()) {
                    json.name(e.getKey()).value(e.getValue());
                }
                json.endObject();
            }
            long at = 0;
            for (Map.Entry<String, TensorData> e : tensors.entrySet()) {
                if (e.getKey().isEmpty() || e.getKey().equals(METADATA)) {
                    throw new IllegalArgumentException("invalid tensor name \"" + e.getKey() + "\"");
                }
                long end = at + (long) e.getValue().values().length * Float.BYTES;
                json.name(e.getKey()).beginObject();
                json.name("dtype").value("F32");
                json.name("shape").beginArray();
                for (int d : e.getValue().shape()) {
                    json.value(d);
                }
                json.endArray();
                json.name("data_offsets").beginArray().value(at).value(end).endArray();
                json.endObject();
                at = end;
            }
            json.endObject();
        } catch (IOException e) {
            throw new IllegalStateException(e); // a StringWriter does not fail
        }
        byte[] utf8 = text.toString().getBytes(StandardCharsets.UTF_8);
        int padded = (utf8.length + 7) / 8 * 8;
        byte[] header = Arrays.copyOf(utf8, padded);
        Arrays.fill(header, utf8.length, padded, (byte) ' ');
        return header;
    }

    private static void flush(FileChannel channel, ByteBuffer buffer) throws IOException {
        buffer.flip();
        writeFully(channel, buffer);
        buffer.clear();
    }

    private static void writeFully(FileChannel channel, ByteBuffer buffer) throws IOException {
        while (buffer.hasRemaining()) {
            channel.write(buffer);
        }
    }

    /** Reads and validates the whole file. */
    public static Contents read(Path path) {
        if (Files.isDirectory(path)) {
            throw new CheckpointException("checkpoint " + path + " is a directory, not a file; give the path of a .safetensors file");
        }
        try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ)) {
            return read(path, channel);
        } catch (NoSuchFileException e) {
            throw new CheckpointException("checkpoint " + path + " does not exist; check the path"
                    + (Files.isDirectory(path.toAbsolutePath().getParent()) ? "" : " (its directory does not exist either)"));
        } catch (AccessDeniedException e) {
            throw new CheckpointException("checkpoint " + path + " cannot be read: permission denied");
        } catch (IOException e) {
            throw new CheckpointException("cannot read checkpoint " + path + ": " + e, e);
        }
    }

    /** Reads and validates only the header, returning its {@code __metadata__}: cheap for any file size. */
    public static Map<String, String> readMetadata(Path path) {
        try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ)) {
            Map<String, String> metadata = new LinkedHashMap<>();
            parseHeader(path, header(path, channel).json(), metadata);
            return metadata;
        } catch (IOException e) {
            throw new CheckpointException("cannot read checkpoint " + path + ": " + e, e);
        }
    }

    /** The header's JSON text and its length in bytes (N, the data start at 8 + N). */
    private record Header(String json, long length) { }

    /** The header after checking the length field against the file. */
    private static Header header(Path path, FileChannel channel) throws IOException {
        long size = channel.size();
        if (size < 8) {
            throw bad(path, "is " + size + " bytes long, too short to be a safetensors file (truncated or empty)");
        }
        ByteBuffer lengthBytes = readAt(channel, 0, 8);
        long n = lengthBytes.order(ByteOrder.LITTLE_ENDIAN).getLong();
        if (n < 2 || n > MAX_HEADER) {
            throw bad(path, "is not a safetensors file: its first 8 bytes give a header length of " + n
                    + " (expected 2.." + MAX_HEADER + ")");
        }
        if (8 + n > size) {
            throw bad(path, "is truncated: the header says it is " + n + " bytes long but the file has only "
                    + (size - 8) + " bytes after the length field");
        }
        byte[] headerBytes = readAt(channel, 8, (int) n).array();
        String header;
        try {
            header = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(headerBytes)).toString();
        } catch (CharacterCodingException e) {
            throw bad(path, "is not a safetensors file: its header is not UTF-8 text");
        }
        if (!header.startsWith("{")) {
            throw bad(path, "is not a safetensors file: its header does not start with '{'");
        }
        return new Header(header, n);
    }

    private static Contents read(Path path, FileChannel channel) throws IOException {
        long size = channel.size();
        Header header = header(path, channel);
        long n = header.length();
        Map<String, String> metadata = new LinkedHashMap<>();
        List<Info> infos = parseHeader(path, header.json(), metadata);
        long dataSize = size - 8 - n;
        checkOffsets(path, infos, dataSize);
        Map<String, TensorData> tensors = new LinkedHashMap<>();
        long base = 8 + n;
        Map<String, String> crcs = new LinkedHashMap<>();
        for (Info info : infos) {
            CRC32C crc = new CRC32C();
            tensors.put(info.name, new TensorData(info.shape, readFloats(channel, base + info.begin, info.elements, crc)));
            crcs.put(info.name, crcText(crc));
        }
        String checksums = metadata.remove(CHECKSUMS);
        if (checksums != null) {
            verifyChecksums(path, checksums, crcs);
        }
        return new Contents(Collections.unmodifiableMap(tensors), Collections.unmodifiableMap(metadata));
    }

    /** One header entry. */
    private record Info(String name, String dtype, int[] shape, long begin, long end, int elements) {}

    private static List<Info> parseHeader(Path path, String header, Map<String, String> metadata) {
        List<Info> infos = new ArrayList<>();
        Set<String> seen = new HashSet<>();
        try (JsonReader json = new JsonReader(new StringReader(header))) {
            json.setStrictness(Strictness.STRICT);
            json.beginObject();
            while (json.hasNext()) {
                String name = json.nextName();
                if (!seen.add(name)) {
                    throw bad(path, "has a corrupt header: \"" + name + "\" appears twice");
                }
                if (name.equals(METADATA)) {
                    json.beginObject();
                    while (json.hasNext()) {
                        String key = json.nextName();
                        if (json.peek() != JsonToken.STRING) {
                            throw bad(path, "has a corrupt header: metadata \"" + key + "\" is not a string");
                        }
                        metadata.put(key, json.nextString());
                    }
                    json.endObject();
                } else {
                    infos.add(parseInfo(path, name, json));
                }
            }
            json.endObject();
            if (json.peek() != JsonToken.END_DOCUMENT) {
                throw bad(path, "has a corrupt JSON header: text after the JSON object");
            }
        } catch (IOException | IllegalStateException | NumberFormatException e) {
            throw bad(path, "has a corrupt JSON header (" + e.getMessage() + ")");
        }
        return infos;
    }

    private static Info parseInfo(Path path, String name, JsonReader json) throws IOException {
        String dtype = null;
        List<Long> shape = null;
        long[] offsets = null;
        json.beginObject();
        while (json.hasNext()) {
            switch (json.nextName()) {
                case "dtype" -> dtype = json.nextString();
                case "shape" -> shape = longs(json);
                case "data_offsets" -> {
                    List<Long> list = longs(json);
                    if (list.size() != 2) {
                        throw bad(path, "has a corrupt header: tensor \"" + name + "\" has data_offsets " + list
                                + ", expected [begin, end]");
                    }
                    offsets = new long[]{list.get(0), list.get(1)};
                }
                default -> json.skipValue();
            }
        }
        json.endObject();
        if (dtype == null || shape == null || offsets == null) {
            throw bad(path, "has a corrupt header: tensor \"" + name + "\" lacks "
                    + (dtype == null ? "dtype" : shape == null ? "shape" : "data_offsets"));
        }
        if (!dtype.equals("F32")) {
            String known = OTHER_DTYPES.contains(dtype) ? "" : " (not a safetensors dtype)";
            throw bad(path, "holds tensor \"" + name + "\" of dtype " + dtype + known
                    + "; only F32 is supported: convert it to float32 (e.g. tensor.float() in PyTorch) and save again");
        }
        int[] dims = new int[shape.size()];
        long elements = 1;
        for (int i = 0; i < dims.length; i++) {
            long d = shape.get(i);
            if (d < 0 || d > Integer.MAX_VALUE) {
                throw bad(path, "has a corrupt header: tensor \"" + name + "\" has shape " + shape);
            }
            dims[i] = (int) d;
            long limit = Long.MAX_VALUE / 8; // saturate: an absurd shape must not overflow
            elements = d == 0 ? 0 : elements > limit / d ? limit : elements * d;
        }
        if (offsets[0] < 0 || offsets[1] < offsets[0]) {
            throw bad(path, "has a corrupt header: tensor \"" + name + "\" has data_offsets ["
                    + offsets[0] + ", " + offsets[1] + "]");
        }
        if (elements * Float.BYTES != offsets[1] - offsets[0]) {
            throw bad(path, "has a corrupt header: tensor \"" + name + "\" has shape " + shape + " (" + elements
                    + " floats, " + elements * Float.BYTES + " bytes) but its data_offsets [" + offsets[0] + ", "
                    + offsets[1] + "] span " + (offsets[1] - offsets[0]) + " bytes");
        }
        if (elements > Integer.MAX_VALUE - 8) {
            throw bad(path, "holds tensor \"" + name + "\" of " + elements + " floats, more than one Java array holds");
        }
        return new Info(name, dtype, dims, offsets[0], offsets[1], (int) elements);
    }

    private static List<Long> longs(JsonReader json) throws IOException {
        List<Long> list = new ArrayList<>();
        json.beginArray();
        while (json.hasNext()) {
            list.add(json.nextLong());
        }
        json.endArray();
        return list;
    }

    /** Tensors must tile [0, dataSize) exactly: no overlap, no gap, nothing past the end. */
    private static void checkOffsets(Path path, List<Info> infos, long dataSize) {
        List<Info> sorted = new ArrayList<>(infos);
        sorted.sort(Comparator.comparingLong(Info::begin).thenComparingLong(Info::end));
        long at = 0;
        for (Info info : sorted) {
            if (info.end > dataSize) {
                throw bad(path, "is truncated or corrupt: tensor \"" + info.name + "\" ends at data byte " + info.end
                        + " but the file holds only " + dataSize + " data bytes");
            }
            if (info.begin < at) {
                throw bad(path, "has a corrupt header: tensor \"" + info.name + "\" at data bytes [" + info.begin + ", "
                        + info.end + ") overlaps the tensor before it, which ends at " + at);
            }
            if (info.begin > at) {
                throw bad(path, "has a corrupt header: data bytes [" + at + ", " + info.begin
                        + ") belong to no tensor (a gap before \"" + info.name + "\")");
            }
            at = info.end;
        }
        if (at != dataSize) {
            throw bad(path, "is corrupt: it has " + (dataSize - at) + " bytes after the last tensor's data");
        }
    }

    private static float[] readFloats(FileChannel channel, long position, int count, CRC32C crc) throws IOException {
        float[] values = new float[count];
        ByteBuffer buffer = ByteBuffer.allocate(CHUNK).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < count; ) {
            int n = Math.min(count - i, CHUNK / Float.BYTES);
            buffer.clear().limit(n * Float.BYTES);
            fill(channel, buffer, position + (long) i * Float.BYTES);
            buffer.flip();
            buffer.asFloatBuffer().get(values, i, n);
            crc.update(buffer.duplicate());
            i += n;
        }
        return values;
    }

    private static ByteBuffer readAt(FileChannel channel, long position, int length) throws IOException {
        ByteBuffer buffer = ByteBuffer.allocate(length);
        fill(channel, buffer, position);
        buffer.flip();
        return buffer;
    }

    private static void fill(FileChannel channel, ByteBuffer buffer, long position) throws IOException {
        long at = position;
        while (buffer.hasRemaining()) {
            int n = channel.read(buffer, at);
            if (n < 0) {
                throw new IOException("file shrank while being read");
            }
            at += n;
        }
    }

    private static CheckpointException bad(Path path, String what) {
        return new CheckpointException("checkpoint " + path + " " + what
                + (what.contains("; ") ? "" : "; use an intact checkpoint (e.g. the previous save) or retrain"));
    }
}
