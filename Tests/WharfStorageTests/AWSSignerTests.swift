import Foundation
import Testing
import Crypto
@testable import WharfStorage

/// The examples of the S3 documentation ("Signature Calculations for the Authorization Header"
/// and "Query String Authentication"), with the key pair and date AWS publishes for them.
@Suite("AWS Signature Version 4")
struct AWSSignerTests {
    let signer = AWSSigner(accessKey: "AKIAIOSFODNN7EXAMPLE", secretKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", region: "us-east-1")
    let date = Date(timeIntervalSince1970: 1_369_353_600)  // 2013-05-24T00:00:00Z
    let host = "examplebucket.s3.amazonaws.com"

    func signature(_ headers: [(String, String)]) -> String? {
        headers.first { $0.0 == "Authorization" }?.1.components(separatedBy: "Signature=").last
    }

    @Test("GET Object with a Range header")
    func getObject() {
        let request = AWSSigner.Request(method: "GET", host: host, path: "/test.txt", headers: [("Range", "bytes=0-9")])
        let headers = signer.sign(request, payloadHash: AWSSigner.emptyPayload, date: date)
        #expect(headers.first { $0.0 == "Authorization" }?.1 == "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
        #expect(headers.first { $0.0 == "x-amz-date" }?.1 == "20130524T000000Z")
    }

    @Test("PUT Object with a body, a storage class and a Date header, to a key that needs encoding")
    func putObject() {
        let body = "Welcome to Amazon S3."
        let hash = AWSSigner.hex(SHA256Digest.of(body))
        #expect(hash == "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072")
        let request = AWSSigner.Request(method: "PUT", host: host, path: "/test$file.text",
                                        headers: [("Date", "Fri, 24 May 2013 00:00:00 GMT"), ("x-amz-storage-class", "REDUCED_REDUNDANCY")])
        #expect(signature(signer.sign(request, payloadHash: hash, date: date)) == "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd")
    }

    @Test("GET Bucket lifecycle: a query parameter without a value")
    func lifecycle() {
        let request = AWSSigner.Request(method: "GET", host: host, path: "/", query: [("lifecycle", "")])
        #expect(signature(signer.sign(request, payloadHash: AWSSigner.emptyPayload, date: date)) == "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543")
    }

    @Test("GET Bucket (list objects): query parameters sorted")
    func listObjects() {
        let request = AWSSigner.Request(method: "GET", host: host, path: "/", query: [("prefix", "J"), ("max-keys", "2")])
        #expect(signature(signer.sign(request, payloadHash: AWSSigner.emptyPayload, date: date)) == "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7")
    }

    @Test("a presigned GET URL valid for a day")
    func presigned() {
        let request = AWSSigner.Request(method: "GET", host: host, path: "/test.txt")
        let query = signer.presignedQuery(request, expires: 86400, date: date)
        #expect(query.contains("X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"))
        #expect(query.contains("X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"))
    }

    @Test("path segments and query values are encoded once, RFC 3986 style")
    func encoding() {
        #expect(AWSSigner.encodePath("/a b/c+d/é~_.-") == "/a%20b/c%2Bd/%C3%A9~_.-")
        #expect(AWSSigner.canonicalQuery([("b", "2"), ("a", "x y"), ("a", "w")]) == "a=w&a=x%20y&b=2")
    }
}

extension SHA256Digest {
    static func of(_ text: String) -> SHA256Digest { SHA256.hash(data: Data(text.utf8)) }
}
