// NumericFiles: dense sequence data from files (numeric CSV, NumPy .npy) and class labels, with one clear error per problem.
package bptt.train;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Readers for the dense data {@code train --data} takes. Every problem (a missing or empty file,
 * ragged rows, a field that is not a number, NaN or infinity, a .npy of another dtype, order or
 * shape) is an IllegalArgumentException whose message names the file, the place and what to do.
 *
 * <ul>
 *   <li>CSV: one row per time step, one column per feature, comma-separated; an optional first
 *       row of column names (any row whose fields are not all numbers is taken as the header when
 *       it comes first); blank lines are skipped. Gives (T, D).</li>
 *   <li>.npy (NumPy's format, versions 1 to 3): little- or big-endian float32 in C order, shape
 *       (T,) (read as (T, 1)), (T, D) or (N, T, D).</li>
 *   <li>labels: a .npy of shape (N,) holding whole numbers (any integer or float dtype), or a text
 *       file with one whole number per line.</li>
 * </ul>
 */
public final class NumericFiles {
    private static final byte[] NPY_MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};
    private static final Pattern DESCR = Pattern.compile("'descr'\\s*:\\s*'([^']*)'");
    private static final Pattern ORDER = Pattern.compile("'fortran_order'\\s*:\\s*(True|False)");
    private static final Pattern SHAPE = Pattern.compile("'shape'\\s*:\\s*\\(([^)]*)\\)");

    /**
     * An array of floats in C order.
     *
     * @param shape   its dimensions: (T, D) or (N, T, D)
     * @param values  the elements, row-major
     * @param columns the names of the last dimension's columns (a CSV header, else "0", "1", …)
     */
    public record Array(int[] shape, float[] values, List<String> columns) {
        /** The feature count D (the last dimension). */
        public int width() { return shape[shape.length - 1]; }
    }

    private NumericFiles() { }

    /** Reads a .csv or .npy file by its extension (anything but .npy is read as CSV). */
    public static Array read(Path file) {
        if (!Files.exists(file)) {
            throw new IllegalArgumentException("data file " + file + " does not exist; pass a .csv or .npy file with --data");
        }
        return file.toString().toLowerCase(Locale.ROOT).endsWith(".npy") ? readNpy(file) : readCsv(file);
    }

    /** A numeric CSV as (T, D). */
    public static Array readCsv(Path file) {
        String text = text(file);
        List<String> header = null;
        List<float[]> rows = new ArrayList<>();
        int width = -1;
        int firstLine = 0;
        String[] lines = text.split("\r?\n|\r", -1);
        for (int i = 0; i < lines.length; i++) {
            String line = lines[i].strip();
            if (line.isEmpty()) {
                continue;
            }
            String[] fields = line.split(",", -1);
            if (header == null && rows.isEmpty() && !allNumbers(fields)) {
                header = Arrays.stream(fields).map(f -> unquote(f.strip())).toList();
                width = fields.length;
                firstLine = i + 1;
                continue;
            }
            if (width < 0) {
                width = fields.length;
                firstLine = i + 1;
            } else if (fields.length != width) {
                throw new IllegalArgumentException("data file " + file + ": line " + (i + 1) + " has " + fields.length
                        + " value" + (fields.length == 1 ? "" : "s") + " but line " + firstLine + " has " + width
                        + "; every row must have one value per column (fill or drop the missing ones)");
            }
            float[] row = new float[width];
            for (int j = 0; j < width; j++) {
                row[j] = number(file, fields[j], i + 1, j, header);
            }
            rows.add(row);
        }
        if (rows.isEmpty()) {
            throw new IllegalArgumentException("data file " + file + " has no rows of numbers"
                    + (header != null ? " (only the header " + String.join(",", header) + ")" : "")
                    + "; give one row per time step, one comma-separated number per feature");
        }
        float[] values = new float[Math.multiplyExact(rows.size(), width)];
        for (int r = 0; r < rows.size(); r++) {
            System.arraycopy(rows.get(r), 0, values, r * width, width);
        }
        return new Array(new int[]{rows.size(), width}, values, header != null ? header : indexNames(width));
    }

    private static boolean allNumbers(String[] fields) {
        for (String f : fields) {
            if (parse(unquote(f.strip())) == null) {
                return false;
            }
        }
        return true;
    }

    private static float number(Path file, String field, int line, int column, List<String> header) {
        String s = unquote(field.strip());
        Float v = parse(s);
        String where = "data file " + file + ": line " + line + ", column " + column
                + (header != null && column < header.size() ? " (" + header.get(column) + ")" : "");
        if (v == null) {
            throw new IllegalArgumentException(where + ": " + (s.isEmpty() ? "an empty field" : "'" + shorten(s)
                    + "' is not a number") + "; every field after the header must be a number");
        }
        if (!Float.isFinite(v)) {
            throw new IllegalArgumentException(where + " is " + (Float.isNaN(v) ? "NaN" : s)
                    + "; fill or drop missing and infinite values before training");
        }
        return v;
    }

    /** The float a CSV field holds, or null; NaN and infinities parse (and are refused by the caller). */
    private static Float parse(String s) {
        if (s.isEmpty() || !s.matches("[+-]?(\\d+\\.?\\d*([eE][+-]?\\d+)?|\\.\\d+([eE][+-]?\\d+)?|(?i)nan|inf|infinity)")) {
            return null;
        }
        String lower = s.toLowerCase(Locale.ROOT);
        if (lower.endsWith("nan")) {
            return Float.NaN;
        }
        if (lower.endsWith("inf") || lower.endsWith("infinity")) {
            return s.startsWith("-") ? Float.NEGATIVE_INFINITY : Float.POSITIVE_INFINITY;
        }
        return Float.parseFloat(s);
    }

    private static String unquote(String s) {
        return s.length() >= 2 && s.startsWith("\"") && s.endsWith("\"") ? s.substring(1, s.length() - 1) : s;
    }

    private static String shorten(String s) { return s.length() > 40 ? s.substring(0, 40) + "…" : s; }

    private static List<String> indexNames(int width) {
        List<String> names = new ArrayList<>(width);
        for (int j = 0; j < width; j++) {
            names.add(Integer.toString(j));
        }
        return names;
    }

    /** A float32 .npy as (T, D) or (N, T, D). */
    public static Array readNpy(Path file) {
        Npy npy = npy(file);
        if (!npy.descr.equals("<f4") && !npy.descr.equals(">f4")) {
            throw new IllegalArgumentException("data file " + file + " holds " + dtypeName(npy.descr) + " ('" + npy.descr
                    + "'), not float32; save it as float32: np.save(path, a.astype(np.float32))");
        }
        int[] shape = npy.shape.length == 1 ? new int[]{npy.shape[0], 1} : npy.shape;
        if (shape.length > 3 || Arrays.stream(shape).anyMatch(d -> d == 0)) {
            throw new IllegalArgumentException("data file " + file + " has shape " + shapeText(npy.shape) + "; sequence"
                    + " data is (T, D) for one sequence of T steps or (N, T, D) for N sequences, every size above 0");
        }
        int count = npy.count();
        ByteBuffer data = npy.data(file, 4);
        float[] values = new float[count];
        for (int i = 0; i < count; i++) {
            values[i] = data.getFloat();
            if (!Float.isFinite(values[i])) {
                throw new IllegalArgumentException("data file " + file + ": element " + index(i, shape) + " is "
                        + values[i] + "; fill or drop missing and infinite values before training");
            }
        }
        return new Array(shape, values, indexNames(shape[shape.length - 1]));
    }

    /** Class labels, one per sequence: a .npy of shape (N,) or a text file of one whole number per line. */
    public static int[] readLabels(Path file) {
        if (!file.toString().toLowerCase(Locale.ROOT).endsWith(".npy")) {
            List<Integer> labels = new ArrayList<>();
            String[] lines = text(file).split("\r?\n|\r", -1);
            for (int i = 0; i < lines.length; i++) {
                String s = lines[i].strip();
                if (!s.isEmpty()) {
                    Float v = parse(s);
                    double d = v == null ? Double.NaN : Float.isFinite(v) ? Double.parseDouble(s) : v;
                    labels.add(label(file, d, "line " + (i + 1) + " ('" + shorten(s) + "')"));
                }
            }
            return labels.stream().mapToInt(Integer::intValue).toArray();
        }
        Npy npy = npy(file);
        if (npy.shape.length != 1) {
            throw new IllegalArgumentException("labels file " + file + " has shape " + shapeText(npy.shape)
                    + "; labels are one class per sequence, shape (N,)");
        }
        Matcher m = Pattern.compile("([<>|=])([iuf])(\\d)").matcher(npy.descr);
        int size = m.matches() ? Integer.parseInt(m.group(3)) : 0;
        if (!m.matches() || !(size == 1 || size == 2 || size == 4 || size == 8) || m.group(2).equals("f") && size < 4) {
            throw new IllegalArgumentException("labels file " + file + " holds '" + npy.descr + "'; labels are whole"
                    + " numbers in an integer or float array: np.save(path, labels.astype(np.int64))");
        }
        ByteBuffer data = npy.data(file, size);
        int[] labels = new int[npy.shape[0]];
        for (int i = 0; i < labels.length; i++) {
            double v = switch (m.group(2) + size) {
                case "f4" -> data.getFloat();
                case "f8" -> data.getDouble();
                case "i1" -> data.get();
                case "u1" -> data.get() & 0xff;
                case "i2" -> data.getShort();
                case "u2" -> data.getShort() & 0xffff;
                case "i4" -> data.getInt();
                case "u4" -> data.getInt() & 0xffffffffL;
                default -> data.getLong();
            };
            labels[i] = label(file, v, "element " + i);
        }
        return labels;
    }

    private static int label(Path file, double v, String where) {
        if (!(v >= 0 && v == Math.rint(v) && v < (1 << 24))) {
            throw new IllegalArgumentException("labels file " + file + ": " + where + " is " + (Double.isNaN(v) ? "not a number"
                    : v) + "; a label is a class number 0, 1, 2, … (below 2^24)");
        }
        return (int) v;
    }

    /** A parsed .npy header and where its data start. */
    private record Npy(String descr, int[] shape, byte[] bytes, int dataStart) {
        int count() {
            long n = 1;
            for (int d : shape) {
                n *= d;
                if (n > Integer.MAX_VALUE) {
                    throw new IllegalArgumentException("a .npy of shape " + shapeText(shape) + " has more than 2^31 elements");
                }
            }
            return (int) n;
        }

        /** The data, checked to hold exactly count() elements of {@code size} bytes, in the file's byte order. */
        ByteBuffer data(Path file, int size) {
            long need = (long) count() * size;
            long have = bytes.length - (long) dataStart;
            if (have != need) {
                throw new IllegalArgumentException("data file " + file + " has " + have + " bytes of data, but its header"
                        + " (shape " + shapeText(shape) + ", '" + descr + "') needs " + need + "; the file is "
                        + (have < need ? "truncated" : "longer than its header says") + ": save it again with np.save");
            }
            return ByteBuffer.wrap(bytes, dataStart, (int) need)
                    .order(descr.startsWith(">") ? ByteOrder.BIG_ENDIAN : ByteOrder.LITTLE_ENDIAN);
        }
    }

    private static Npy npy(Path file) {
        byte[] bytes = bytes(file);
        if (bytes.length < 10 || !Arrays.equals(Arrays.copyOf(bytes, 6), NPY_MAGIC)) {
            throw new IllegalArgumentException("data file " + file + " is not a NumPy .npy file (no \\x93NUMPY magic);"
                    + " write it with np.save, or give a .csv");
        }
        int major = bytes[6];
        int lengthBytes = major == 1 ? 2 : 4;
        if (major < 1 || major > 3 || bytes.length < 8 + lengthBytes) {
            throw new IllegalArgumentException("data file " + file + " is a .npy of format version " + major
                    + ", which this tool does not read (versions 1 to 3); save it again with np.save");
        }
        ByteBuffer b = ByteBuffer.wrap(bytes, 8, lengthBytes).order(ByteOrder.LITTLE_ENDIAN);
        long headerLength = lengthBytes == 2 ? b.getShort() & 0xffff : b.getInt() & 0xffffffffL;
        int start = 8 + lengthBytes;
        if (start + headerLength > bytes.length) {
            throw new IllegalArgumentException("data file " + file + " has a .npy header of " + headerLength
                    + " bytes but is only " + bytes.length + " bytes long: the file is truncated");
        }
        String header = new String(bytes, start, (int) headerLength, major == 3 ? StandardCharsets.UTF_8
                : StandardCharsets.ISO_8859_1);
        Matcher descr = DESCR.matcher(header);
        Matcher order = ORDER.matcher(header);
        Matcher shape = SHAPE.matcher(header);
        if (!descr.find() || !order.find() || !shape.find()) {
            throw new IllegalArgumentException("data file " + file + " has a .npy header without 'descr',"
                    + " 'fortran_order' and 'shape': " + shorten(header.strip()) + "; save it again with np.save");
        }
        if (order.group(1).equals("True")) {
            throw new IllegalArgumentException("data file " + file + " is stored in Fortran order; save it in C order:"
                    + " np.save(path, np.ascontiguousarray(a))");
        }
        List<Integer> dims = new ArrayList<>();
        for (String d : shape.group(1).split(",")) {
            if (!d.isBlank()) {
                try {
                    dims.add(Integer.parseInt(d.strip()));
                } catch (NumberFormatException e) {
                    throw new IllegalArgumentException("data file " + file + " has a .npy shape (" + shape.group(1)
                            + ") that is not a list of sizes below 2^31");
                }
            }
        }
        if (dims.isEmpty()) {
            throw new IllegalArgumentException("data file " + file + " holds a single number (shape ()); sequence data"
                    + " is (T, D) or (N, T, D)");
        }
        return new Npy(descr.group(1), dims.stream().mapToInt(Integer::intValue).toArray(), bytes,
                (int) (start + headerLength));
    }

    private static String dtypeName(String descr) {
        return switch (descr.substring(Math.min(1, descr.length()))) {
            case "f8" -> "float64";
            case "f2" -> "float16";
            case "i8" -> "int64";
            case "i4" -> "int32";
            case "u1" -> "uint8";
            case "b1" -> "booleans";
            default -> "another dtype";
        };
    }

    private static String shapeText(int[] shape) {
        StringBuilder s = new StringBuilder("(");
        for (int i = 0; i < shape.length; i++) {
            s.append(i == 0 ? "" : ", ").append(shape[i]);
        }
        return s.append(shape.length == 1 ? ",)" : ")").toString();
    }

    /** Element i of a C-order array as [a, b, c]. */
    private static String index(int i, int[] shape) {
        int[] at = new int[shape.length];
        for (int d = shape.length - 1; d >= 0; d--) {
            at[d] = i % shape[d];
            i /= shape[d];
        }
        return Arrays.toString(at);
    }

    private static byte[] bytes(Path file) {
        try {
            byte[] bytes = Files.readAllBytes(file);
            if (bytes.length == 0) {
                throw new IllegalArgumentException("data file " + file + " is empty; give a .csv or .npy of sequence data");
            }
            return bytes;
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException("data file " + file + " does not exist; pass a .csv or .npy file with --data");
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read data file " + file + ": " + e.getMessage());
        }
    }

    private static String text(Path file) {
        return Corpus.readText(file);
    }
}
