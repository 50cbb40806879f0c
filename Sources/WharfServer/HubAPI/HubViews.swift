import Foundation
import WharfCore
import WharfHub
import WharfMetadata

/// Repositories, tags and tokens in Docker Hub's shapes (field names and types as Hub's API).
enum HubViews {
    /// A repository in a listing.
    static func summary(_ info: RepositoryInfo, mediaTypes: Set<String>) -> [String: HubJSON] {
        [
            "name": .string(String(info.name.shortName)),
            "namespace": .string(String(info.name.namespace)),
            "repository_type": "image",
            "status": 1,
            "status_description": "active",
            "description": .string(info.description),
            "is_private": .bool(info.isPrivate),
            "star_count": .int(info.starCount),
            "pull_count": .int(info.pullCount),
            "last_updated": .time(info.updatedAt),
            "date_registered": .time(info.createdAt),
            "affiliation": nil,
            "media_types": .array(mediaTypes.sorted().map { .string($0) }),
            "content_types": .array(contentTypes(mediaTypes).map { .string($0) }),
        ]
    }

    /// A repository on its own, as the caller sees it.
    static func detail(_ detail: RepositoryService.Detail) -> HubJSON {
        let info = detail.listed.info
        var fields = summary(info, mediaTypes: detail.mediaTypes)
        let permission = detail.listed.permission
        fields["user"] = .string(String(info.name.namespace))
        fields["hub_user"] = .string(String(info.name.namespace))
        fields["is_automated"] = false
        fields["can_edit"] = .bool(permission >= .write)
        fields["collaborator_count"] = .int(detail.collaboratorCount)
        fields["has_starred"] = .bool(detail.hasStarred)
        fields["full_description"] = .string(info.fullDescription)
        fields["permissions"] = ["read": true, "write": .bool(permission >= .write), "admin": .bool(permission >= .admin)]
        return .object(fields)
    }

    /// `image` when the manifests are container images (or indexes of them).
    static func contentTypes(_ mediaTypes: Set<String>) -> [String] {
        let images: Set<String> = [MediaType.dockerManifest, MediaType.dockerManifestList, MediaType.ociManifest, MediaType.ociIndex]
        return mediaTypes.isDisjoint(with: images) ? (mediaTypes.isEmpty ? [] : ["unrecognized"]) : ["image"]
    }

    static func tag(_ tag: TagService.TagDetail, in repository: RepositoryName) -> HubJSON {
        [
            "id": .int(stableID("\(repository.value):\(tag.name)")),
            "repository": .int(stableID(repository.value)),
            "name": .string(tag.name),
            "digest": .string(tag.digest.description),
            "full_size": .int(tag.fullSize),
            "last_updated": .time(tag.pushedAt),
            "last_updater_username": .string(tag.pushedBy),
            "tag_last_pushed": .time(tag.pushedAt),
            "tag_last_pulled": .time(tag.pulledAt),
            "media_type": .string(tag.mediaType),
            "content_type": .string(tag.isImage ? "image" : "unrecognized"),
            "v2": true,
            "tag_status": "active",
            "images": .array(tag.images.map(image)),
        ]
    }

    static func image(_ image: TagService.Image) -> HubJSON {
        var fields: [String: HubJSON] = [
            "architecture": .string(image.platform?.architecture),
            "os": .string(image.platform?.os),
            "variant": .string(image.platform?.variant),
            "digest": .string(image.digest.description),
            "size": .int(image.size),
            "status": "active",
            "last_pushed": .time(image.pushedAt),
            "last_pulled": .time(image.pulledAt),
            "features": "",
            "os_features": "",
            "os_version": nil,
        ]
        if let layers = image.layers {
            fields["layers"] = .array(layers.map { layer in
                var fields: [String: HubJSON] = ["size": .int(layer.size), "instruction": .string(layer.instruction)]
                if let digest = layer.digest { fields["digest"] = .string(digest.description) }  // none for steps that made no layer
                return .object(fields)
            })
        }
        return .object(fields)
    }

    /// A personal access token; `secret` only when it was just created.
    static func accessToken(_ token: AccessToken, secret: String? = nil) -> HubJSON {
        [
            "uuid": .string(token.id),
            "client_id": "wharf",
            "creator_ip": .string(token.creatorAddress ?? ""),
            "creator_ua": .string(token.creatorAgent ?? ""),
            "created_at": .time(token.createdAt),
            "last_used": .time(token.lastUsedAt),
            "generated_by": "manual",
            "is_active": .bool(token.isActive),
            "token": .string(secret ?? ""),
            "token_label": .string(token.name),
            "scopes": [.string(token.scope.hubName)],
            "expires_at": .time(token.expiresAt),
        ]
    }

    /// A positive integer identifier that stays the same for the same name (Hub's ids are integers).
    static func stableID(_ name: String) -> Int64 {
        Int64(Digest.of(Array(name.utf8)).encoded.prefix(12), radix: 16) ?? 0
    }
}
