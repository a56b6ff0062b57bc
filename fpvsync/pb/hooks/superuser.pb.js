// A `fpvsync-superuser` command for the PocketBase binary: creates or updates the superuser named by the
// environment variables FPVSYNC_SUPERUSER_EMAIL and FPVSYNC_SUPERUSER_PASSWORD. PocketBase's own
// `superuser upsert EMAIL PASSWORD` takes the password as an argument, where every local user can read it in the
// process list (and a password starting with "-" is taken for a flag); the environment of a process is readable
// only by its owner.
$app.rootCmd.addCommand(new Command({
    use: "fpvsync-superuser",
    short: "Create or update the superuser named by FPVSYNC_SUPERUSER_EMAIL and FPVSYNC_SUPERUSER_PASSWORD",
    run: (cmd, args) => {
        const email = $os.getenv("FPVSYNC_SUPERUSER_EMAIL")
        const password = $os.getenv("FPVSYNC_SUPERUSER_PASSWORD")
        if (!email || !password) {
            throw new Error("FPVSYNC_SUPERUSER_EMAIL and FPVSYNC_SUPERUSER_PASSWORD must be set")
        }
        let record
        try {
            record = $app.findAuthRecordByEmail("_superusers", email)
        } catch (_) {
            record = new Record($app.findCollectionByNameOrId("_superusers"))
        }
        record.setEmail(email)
        record.setPassword(password)
        $app.save(record)
    },
}))
