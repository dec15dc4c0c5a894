import StewardConfig
import StewardPolicy

/// Loading the district's policy for a command: the configuration named, or the demo district.
public enum PolicyLoading {
    public static func load(configFile: String?) throws(StewardError) -> LoadedPolicy {
        let file = try DemoDistrict.configFile(configFile)
        do {
            return try PolicyLoader.load(configFile: file)
        } catch {
            throw .configuration(error)
        }
    }
}
