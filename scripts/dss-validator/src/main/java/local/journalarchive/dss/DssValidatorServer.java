package local.journalarchive.dss;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import eu.europa.esig.dss.detailedreport.DetailedReport;
import eu.europa.esig.dss.diagnostic.DiagnosticData;
import eu.europa.esig.dss.diagnostic.PDFRevisionWrapper;
import eu.europa.esig.dss.diagnostic.SignatureWrapper;
import eu.europa.esig.dss.diagnostic.TimestampWrapper;
import eu.europa.esig.dss.enumerations.Indication;
import eu.europa.esig.dss.enumerations.SignatureLevel;
import eu.europa.esig.dss.enumerations.SubIndication;
import eu.europa.esig.dss.jaxb.object.Message;
import eu.europa.esig.dss.model.DSSDocument;
import eu.europa.esig.dss.model.FileDocument;
import eu.europa.esig.dss.simplereport.SimpleReport;
import eu.europa.esig.dss.spi.DSSUtils;
import eu.europa.esig.dss.spi.validation.CommonCertificateVerifier;
import eu.europa.esig.dss.spi.x509.CommonTrustedCertificateSource;
import eu.europa.esig.dss.validation.SignedDocumentValidator;
import eu.europa.esig.dss.validation.policy.ValidationPolicyLoader;
import eu.europa.esig.dss.validation.reports.Reports;

import java.io.BufferedReader;
import java.io.File;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.PrintStream;
import java.io.Writer;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.Date;
import java.util.List;
import java.util.Properties;

/**
 * EU DSS as a long-lived validator for the journal-archive test suite.
 *
 * <p>Protocol: one JSON request per line on stdin,
 * {@code {"pdf": "/abs/doc.pdf", "trust": ["/abs/root.pem"], "time": "2031-01-01T00:00:00Z" | null,
 * "etsi": "/abs/report.xml" | null, "id": anything}}, and one JSON line per request on stdout
 * (the request's {@code id} echoed). A request that cannot be validated gets
 * {@code {"id": ..., "error": "..."}}; the process carries on. On start it writes
 * {@code {"ready": true, "dss": "<version>"}} once the default policy is loaded.
 *
 * <p>Validation is offline: no CRL, OCSP or AIA source, so only what the PDF carries (its DSS
 * dictionary, the CMS) is used; the trusted list holds exactly the roots of the request; the
 * policy is DSS's default validation policy.
 *
 * <p>Everything that is not the protocol (library logging, stray prints) goes to stderr.
 */
public final class DssValidatorServer {

    private static final ObjectMapper JSON = new ObjectMapper();

    private DssValidatorServer() {
    }

    public static void main(String[] args) throws Exception {
        // Only this class writes to stdout: anything a library prints lands on stderr.
        PrintStream protocol = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        System.setOut(System.err);
        String version = dssVersion();
        if (args.length == 1 && "--version".equals(args[0])) {
            protocol.println("dss-validator (EU DSS " + version + ")");
            return;
        }
        if (args.length == 1 && "--check".equals(args[0])) {
            // Loads the default policy (JAXB, the policy schema) and the PDF machinery.
            ValidationPolicyLoader.fromDefaultValidationPolicy().create();
            new CommonCertificateVerifier();
            Class.forName("eu.europa.esig.dss.pades.validation.PDFDocumentValidator");
            protocol.println("dss-validator (EU DSS " + version + ") ok");
            return;
        }
        if (args.length != 0) {
            System.err.println("usage: dss-validator [--version | --check] (requests on stdin)");
            System.exit(2);
        }
        // Load the default policy once up front, so the first request is not the slow one.
        ValidationPolicyLoader.fromDefaultValidationPolicy().create();
        ObjectNode ready = JSON.createObjectNode();
        ready.put("ready", true);
        ready.put("dss", version);
        protocol.println(JSON.writeValueAsString(ready));

        BufferedReader requests =
                new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line;
        while ((line = requests.readLine()) != null) {
            if (line.isBlank()) {
                continue;
            }
            protocol.println(JSON.writeValueAsString(answer(line)));
        }
    }

    /** One request line to one answer; never throws. */
    static ObjectNode answer(String line) {
        JsonNode id = null;
        try {
            JsonNode request = JSON.readTree(line);
            if (request == null || !request.isObject()) {
                throw new IllegalArgumentException("a request is a JSON object");
            }
            id = request.get("id");
            ObjectNode report = validate(request);
            if (id != null) {
                report.set("id", id);
            }
            return report;
        } catch (Throwable error) {  // one bad request must not end the process
            error.printStackTrace(System.err);
            ObjectNode failure = JSON.createObjectNode();
            if (id != null) {
                failure.set("id", id);
            }
            String message = error.getMessage();
            failure.put("error", error.getClass().getName() + (message == null ? "" : ": " + message));
            return failure;
        }
    }

    static ObjectNode validate(JsonNode request) throws IOException {
        String pdf = text(request, "pdf");
        if (pdf == null) {
            throw new IllegalArgumentException("\"pdf\" (an absolute path) is required");
        }
        File file = new File(pdf);
        if (!file.isFile()) {
            throw new FileNotFoundException("no such file: " + pdf);
        }

        CommonTrustedCertificateSource trusted = new CommonTrustedCertificateSource();
        JsonNode trust = request.get("trust");
        if (trust != null && !trust.isNull()) {
            if (!trust.isArray()) {
                throw new IllegalArgumentException("\"trust\" is a list of PEM or DER file paths");
            }
            for (JsonNode root : trust) {
                try (InputStream in = Files.newInputStream(Path.of(root.asText()))) {
                    trusted.addCertificate(DSSUtils.loadCertificate(in));
                }
            }
        }
        // Offline: no CRL, OCSP or AIA fetching; only what the document carries.
        CommonCertificateVerifier verifier = new CommonCertificateVerifier();
        verifier.setCrlSource(null);
        verifier.setOcspSource(null);
        verifier.setAIASource(null);
        verifier.setTrustedCertSources(trusted);

        DSSDocument document = new FileDocument(file);
        SignedDocumentValidator validator = SignedDocumentValidator.fromDocument(document);
        validator.setCertificateVerifier(verifier);
        String time = text(request, "time");
        if (time != null) {
            validator.setValidationTime(Date.from(Instant.parse(time)));
        }
        Reports reports = validator.validateDocument();  // the default validation policy

        String etsi = text(request, "etsi");
        if (etsi != null) {
            writeAtomically(Path.of(etsi), reports.getXmlValidationReport());
        }
        return describe(reports, etsi);
    }

    static ObjectNode describe(Reports reports, String etsiPath) {
        SimpleReport simple = reports.getSimpleReport();
        DetailedReport detailed = reports.getDetailedReport();
        DiagnosticData diagnostic = reports.getDiagnosticData();

        ObjectNode out = JSON.createObjectNode();
        out.put("validationTime", iso(simple.getValidationTime()));
        out.put("policy", simple.getJaxbModel().getValidationPolicy() == null
                ? null : simple.getJaxbModel().getValidationPolicy().getPolicyName());
        if (etsiPath != null) {
            out.put("etsi", etsiPath);
        }

        List<String> ids = new ArrayList<>(simple.getSignatureIdList());
        ids.sort(Comparator.comparing(id -> revisionEnd(diagnostic.getSignatureById(id))));
        ArrayNode signatures = out.putArray("signatures");
        for (String id : ids) {
            SignatureWrapper signature = diagnostic.getSignatureById(id);
            ObjectNode node = signatures.addObject();
            node.put("id", id);
            node.put("fieldName", fieldName(signature));
            node.put("indication", name(simple.getIndication(id)));
            node.put("subIndication", name(simple.getSubIndication(id)));
            // As the simple report's XML spells it: PAdES-BASELINE-LTA, not PAdES_BASELINE_LTA.
            SignatureLevel format = simple.getSignatureFormat(id);
            node.put("signatureFormat", format == null ? null : format.name().replace('_', '-'));
            node.put("qualification", name(simple.getSignatureQualification(id)));
            node.put("bestSignatureTime", iso(simple.getBestSignatureTime(id)));
            node.put("signingTime", iso(simple.getSigningTime(id)));
            node.put("signedBy", simple.getSignedBy(id));
            node.set("errors", messages(simple.getAdESValidationErrors(id)));
            node.set("warnings", messages(simple.getAdESValidationWarnings(id)));
            node.set("infos", messages(simple.getAdESValidationInfo(id)));
            // The building blocks of EN 319 102-1 behind the verdict: basic (5.3), with
            // long-term data (5.5), archival (5.6).
            ObjectNode processes = node.putObject("processes");
            process(processes, "basic", detailed.getBasicValidationIndication(id),
                    detailed.getBasicValidationSubIndication(id));
            process(processes, "longTerm", detailed.getLongTermValidationIndication(id),
                    detailed.getLongTermValidationSubIndication(id));
            process(processes, "archival", detailed.getArchiveDataValidationIndication(id),
                    detailed.getArchiveDataValidationSubIndication(id));
            ArrayNode covering = node.putArray("timestampIds");
            if (signature != null) {
                for (TimestampWrapper timestamp : signature.getTimestampList()) {
                    covering.add(timestamp.getId());
                }
            }
        }

        List<TimestampWrapper> timestamps = new ArrayList<>(diagnostic.getTimestampList());
        timestamps.sort(Comparator.comparing(DssValidatorServer::productionOrder));
        ArrayNode timestampNodes = out.putArray("timestamps");
        for (TimestampWrapper timestamp : timestamps) {
            String id = timestamp.getId();
            ObjectNode node = timestampNodes.addObject();
            node.put("id", id);
            node.put("type", name(timestamp.getType()));
            node.put("archiveTimestampType", name(timestamp.getArchiveTimestampType()));
            node.put("productionTime", iso(timestamp.getProductionTime()));
            Indication indication = simple.getIndication(id);
            SubIndication subIndication = simple.getSubIndication(id);
            if (indication == null) {  // not in the simple report: the basic building block
                indication = detailed.getBasicTimestampValidationIndication(id);
                subIndication = detailed.getBasicTimestampValidationSubIndication(id);
            }
            node.put("indication", name(indication));
            node.put("subIndication", name(subIndication));
            node.put("producedBy", timestamp.getSigningCertificate() == null
                    ? null : timestamp.getSigningCertificate().getCommonName());
            node.put("fieldName", timestamp.getPDFRevision() == null
                    ? null : timestamp.getPDFRevision().getFirstFieldName());
            ArrayNode covers = node.putArray("signatureIds");
            for (SignatureWrapper covered : timestamp.getTimestampedSignatures()) {
                covers.add(covered.getId());
            }
            node.set("errors", messages(simple.getAdESValidationErrors(id)));
            node.set("warnings", messages(simple.getAdESValidationWarnings(id)));
        }
        return out;
    }

    private static void process(ObjectNode into, String key, Indication indication,
                                SubIndication subIndication) {
        ObjectNode node = into.putObject(key);
        node.put("indication", name(indication));
        node.put("subIndication", name(subIndication));
    }

    private static String fieldName(SignatureWrapper signature) {
        if (signature == null) {
            return null;
        }
        PDFRevisionWrapper revision = signature.getPDFRevision();
        return revision == null ? null : revision.getFirstFieldName();
    }

    /** Where the signed revision ends: document order of PDF signatures. */
    private static BigInteger revisionEnd(SignatureWrapper signature) {
        if (signature == null || signature.getPDFRevision() == null) {
            return BigInteger.ZERO;
        }
        List<BigInteger> range = signature.getPDFRevision().getSignatureByteRange();
        if (range == null || range.size() != 4) {
            return BigInteger.ZERO;
        }
        return range.get(2).add(range.get(3));
    }

    private static Instant productionOrder(TimestampWrapper timestamp) {
        Date time = timestamp.getProductionTime();
        return time == null ? Instant.MIN : time.toInstant();
    }

    private static ArrayNode messages(Collection<Message> messages) {
        ArrayNode array = JSON.createArrayNode();
        if (messages != null) {
            for (Message message : messages) {
                ObjectNode node = array.addObject();
                node.put("key", message.getKey());
                node.put("value", message.getValue());
            }
        }
        return array;
    }

    private static String name(Enum<?> value) {
        return value == null ? null : value.name();
    }

    private static String iso(Date date) {
        return date == null ? null : date.toInstant().toString();
    }

    private static String text(JsonNode request, String key) {
        JsonNode value = request.get(key);
        return value == null || value.isNull() ? null : value.asText();
    }

    private static void writeAtomically(Path target, String content) throws IOException {
        Path temporary = target.resolveSibling("." + target.getFileName() + ".tmp");
        try (Writer writer = new OutputStreamWriter(
                Files.newOutputStream(temporary), StandardCharsets.UTF_8)) {
            writer.write(content);
        }
        Files.move(temporary, target, StandardCopyOption.REPLACE_EXISTING,
                StandardCopyOption.ATOMIC_MOVE);
    }

    private static String dssVersion() {
        Properties properties = new Properties();
        try (InputStream in = DssValidatorServer.class.getResourceAsStream(
                "/dss-validator.properties")) {
            if (in != null) {
                properties.load(in);
            }
        } catch (IOException ignored) {
            // the version is informative only
        }
        return properties.getProperty("dss.version", "unknown");
    }
}
