/// Password hashing, token service and access policy arrive with the accounts issue.
public enum WharfAuth {}
