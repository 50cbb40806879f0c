import Foundation

/// The website's Mustache templates by name, compiled into the binary from `Website/Templates`
/// (listed in `embed.txt`; `WebTemplateTests` checks that every file is here).
enum WebTemplates {
    static let all: [(name: String, text: String)] = [
        ("build", EmbeddedFiles.templateBuild),
        ("builds", EmbeddedFiles.templateBuilds),
        ("error", EmbeddedFiles.templateError),
        ("explore", EmbeddedFiles.templateExplore),
        ("form-errors", EmbeddedFiles.templateFormErrors),
        ("layout", EmbeddedFiles.templateLayout),
        ("login", EmbeddedFiles.templateLogin),
        ("namespace", EmbeddedFiles.templateNamespace),
        ("org-create", EmbeddedFiles.templateOrgCreate),
        ("organization", EmbeddedFiles.templateOrganization),
        ("pager", EmbeddedFiles.templatePager),
        ("repo-card", EmbeddedFiles.templateRepoCard),
        ("repo-header", EmbeddedFiles.templateRepoHeader),
        ("repo-nav", EmbeddedFiles.templateRepoNav),
        ("repository", EmbeddedFiles.templateRepository),
        ("repository-create", EmbeddedFiles.templateRepositoryCreate),
        ("repository-settings", EmbeddedFiles.templateRepositorySettings),
        ("search", EmbeddedFiles.templateSearch),
        ("settings", EmbeddedFiles.templateSettings),
        ("settings-nav", EmbeddedFiles.templateSettingsNav),
        ("signup", EmbeddedFiles.templateSignup),
        ("tag", EmbeddedFiles.templateTag),
        ("tags", EmbeddedFiles.templateTags),
        ("tokens", EmbeddedFiles.templateTokens),
        ("webhook", EmbeddedFiles.templateWebhook),
        ("webhooks", EmbeddedFiles.templateWebhooks),
    ]
}
