import Hummingbird
import WharfCore
import WharfHub

extension WharfRequestContext {
    /// The repository `/api/repositories/{namespace}/{name}/…` names (404 when it cannot be a
    /// name, like a missing one).
    func pathRepository() throws -> RepositoryName {
        let raw = "\(try parameters.require("namespace"))/\(try parameters.require("name"))"
        guard let name = RepositoryName(raw) else { throw HubError.notFound("repository") }
        return name
    }
}
