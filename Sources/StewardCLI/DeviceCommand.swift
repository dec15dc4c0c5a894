import ArgumentParser
import Foundation
import StewardServer
import StewardStore

/// `steward device add|list`: district devices with their hardware addresses and owners.
struct DeviceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "device", abstract: "District devices.", subcommands: [Add.self, List.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add or update a device.")
        @OptionGroup var options: ConfigOptions
        @Argument(help: "The device's id (asset tag).") var id: String
        @Option(help: "Its hardware (MAC) address.") var mac: String?
        @Option(help: "The owner's person id.") var owner: String?
        @Option(help: "A name (model, room).") var name: String?

        func run() async throws {
            try await withStore(options) { store, _ in
                try await store.directory.saveDevice(id: id, hardwareAddress: mac, ownerID: owner, name: name, actor: StoreAccess.actor)
            }
            print("device \(id) saved")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List devices.")
        @OptionGroup var options: ConfigOptions
        @Option(help: "Only this person's.") var owner: String?

        func run() async throws {
            let devices = try await withStore(options) { store, _ in try await store.directory.devices(ownerID: owner) }
            for device in devices {
                print("\(device.id)\t\(device.hardwareAddress ?? "-")\t\(device.ownerID ?? "-")\t\(device.name ?? "")")
            }
        }
    }
}
