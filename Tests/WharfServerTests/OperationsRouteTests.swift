import Hummingbird
import HummingbirdTesting
import Testing
@testable import WharfServer

@Suite("Operations routes")
struct OperationsRouteTests {
    @Test("healthz and readyz answer 200 when the stores work")
    func health() async throws {
        try await TestRegistry().run { client in
            try await client.execute(uri: "/healthz", method: .get) { #expect($0.status == .ok) }
            try await client.execute(uri: "/readyz", method: .get) { #expect($0.status == .ok) }
        }
    }

    @Test("metrics expose request counts, latency, bytes, uploads and storage")
    func metrics() async throws {
        try await TestRegistry().run { client in
            try await client.pushBlob(Array("metrics".utf8), to: "acme/app")
            try await client.execute(uri: "/v2/acme/app/blobs/uploads/", method: .post) { #expect($0.status == .accepted) }
            try await client.execute(uri: "/metrics", method: .get) { response in
                let text = String(buffer: response.body)
                #expect(text.contains(#"wharf_http_requests_total{route="upload",method="PUT",status="201"} 1"#))
                #expect(text.contains("wharf_http_request_duration_seconds_bucket"))
                #expect(text.contains("wharf_http_received_bytes_total 7"))
                #expect(text.contains("wharf_http_sent_bytes_total"))
                #expect(text.contains("wharf_upload_sessions_open 1"))
                #expect(text.contains("wharf_storage_bytes 7"))
            }
        }
    }
}
